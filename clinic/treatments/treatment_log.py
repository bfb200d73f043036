"""The treatment log: what was delivered at a session, written once per appointment, and
corrected afterwards only through its history (edits before signing, amendments after).

Everything is checked before anything is written; check-in and the appointment's status
belong to `clinic.scheduling.lifecycle`. Reads of a log are audited here.

Every write (log, edit, amend, and signing and review in `review`) is refused (403) to
staff limited to other sites than the session's chair's; reading a log stays open, as
the patient's chart it belongs to does (patients are not per site).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from clinic import clock, events
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.consent import require_consent
from clinic.courses.models import Course, CourseStatus
from clinic.courses.titration import pct_for_session
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.scheduling import lifecycle
from clinic.scheduling.models import Appointment, AppointmentStatus
from clinic.scheduling.progress import session_numbers
from clinic.scheduling.sites import require_appointment_site
from clinic.treatments.fields import (
    AMENDABLE_FIELDS,
    MAX_TEXT,
    FieldError,
    check_fields,
    clean_text,
    field_value,
    set_field,
    whole_number,
)
from clinic.treatments.models import (
    MotorThreshold,
    ThresholdMethod,
    TreatmentAmendment,
    TreatmentLog,
)
from clinic.treatments.safety import needs_safety_hold, react_to_adverse_event
from clinic.treatments.thresholds import (
    dose_pct_output,
    mt_max_age_days,
    rechecks_by_course,
    threshold_status,
    thresholds_by_course,
)

# A session may be logged from an hour before it starts (the patient is in the chair early).
LOG_WINDOW_BEFORE_START = timedelta(hours=1)
NOT_LOGGABLE = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)


# --- reading -------------------------------------------------------------------------------


def _locked_appointment(appointment_id: int) -> Appointment:
    """The appointment with its course, locked until commit (two logs of it queue up)."""
    appointment = db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .options(joinedload(Appointment.course).joinedload(Course.protocol))
        .with_for_update(of=Appointment)
    )
    if appointment is None:
        raise NotFound(f"No appointment {appointment_id}.")
    return appointment


def get_treatment(treatment_id: int, *, for_update: bool = False) -> TreatmentLog:
    """A log with its course and history. `for_update` re-reads it under a row lock held
    until commit: whoever changes a log (edit, amend, sign, review) decides on the state
    the previous change left, not on what they loaded before it committed."""
    query = (
        select(TreatmentLog)
        .where(TreatmentLog.id == treatment_id)
        .options(
            joinedload(TreatmentLog.course).joinedload(Course.protocol),
            joinedload(TreatmentLog.appointment),
            selectinload(TreatmentLog.amendments).joinedload(TreatmentAmendment.actor),
        )
    )
    if for_update:
        query = query.with_for_update(of=TreatmentLog).execution_options(populate_existing=True)
    log = db.session.scalar(query)
    if log is None:
        raise NotFound(f"No treatment log {treatment_id}.")
    return log


def treatment_to_change(treatment_id: int, actor_id: int | None) -> TreatmentLog:
    """The log locked for a change (edit, amend, sign, review): 403 when its session was at
    a site the actor does not work at."""
    log = get_treatment(treatment_id, for_update=True)
    require_appointment_site(actor_id, log.appointment)
    return log


def view_treatment(treatment_id: int, *, actor_id: int | None) -> TreatmentLog:
    """A log with its history, recording that the actor read the patient's record."""
    log = get_treatment(treatment_id)
    record(actor_id, AuditAction.VIEW, "patient", log.patient_id, detail={"treatment_id": log.id})
    return log


def list_treatments(
    *,
    course_id: int | None = None,
    patient_id: int | None = None,
    status: str | None = None,
    limit: int = 200,
    actor_id: int | None,
) -> Sequence[TreatmentLog]:
    """Logs, oldest session first; status `unsigned`, `unreviewed` (not yet reviewed,
    signed or not) or `reviewed`. Records that the actor read each patient's record."""
    query = (
        select(TreatmentLog)
        .join(TreatmentLog.appointment)
        .options(
            joinedload(TreatmentLog.appointment),
            selectinload(TreatmentLog.amendments),
        )
        .order_by(Appointment.starts_at, TreatmentLog.id)
    )
    if course_id is not None:
        query = query.where(TreatmentLog.course_id == course_id)
    if patient_id is not None:
        query = query.where(TreatmentLog.patient_id == patient_id)
    if status == "unsigned":
        query = query.where(TreatmentLog.signed_at.is_(None))
    elif status == "unreviewed":
        query = query.where(TreatmentLog.reviewed_at.is_(None))
    elif status == "reviewed":
        query = query.where(TreatmentLog.reviewed_at.is_not(None))
    logs = db.session.scalars(query.limit(limit)).all()
    for read_id in sorted({log.patient_id for log in logs}):
        record(actor_id, AuditAction.VIEW, "patient", read_id, detail={"via": "treatments"})
    return logs


# --- logging -------------------------------------------------------------------------------


def log_treatment(
    appointment_id: int,
    actor_id: int | None,
    *,
    intensity_pct_mt: Any,
    pulses_delivered: Any,
    completed: bool,
    motor_threshold_pct: int | None = None,
    motor_threshold_method: str = ThresholdMethod.VISUAL,
    coil_location: str | None = None,
    stop_reason: str | None = None,
    side_effects: list[str] | None = None,
    comfort_score: int | None = None,
    adverse_event: dict[str, Any] | None = None,
    notes: str | None = None,
    supervisor_id: int | None = None,
) -> TreatmentLog:
    """Record what was delivered, under which supervising physician (default: the course's
    prescriber). Everything is checked before anything is written, so a refused log
    leaves no motor threshold, no alert and no status change behind. The log keeps the
    session's number and the %MT prescribed for it (the titration's step): a dose below it
    is allowed and marked, never one above the course's prescribed %MT."""
    appointment = _locked_appointment(appointment_id)
    require_appointment_site(actor_id, appointment)
    course = appointment.course
    now = clock.now()
    _check_loggable(appointment, course, now)
    max_age = mt_max_age_days()

    inline_threshold = None
    if motor_threshold_pct is not None:
        try:
            whole_number(motor_threshold_pct, 1, 100, "")
        except FieldError:
            raise Invalid(
                "The treatment log has invalid fields.",
                fields={"motor_threshold_pct": ["Motor threshold is 1 to 100% of output."]},
            ) from None
        if motor_threshold_method not in tuple(ThresholdMethod):
            raise Invalid(
                "The treatment log has invalid fields.",
                fields={"motor_threshold_method": [f"Use one of: {', '.join(ThresholdMethod)}."]},
            )
        # Measured at the chair: now, or at the session's end when entered afterwards.
        inline_threshold = MotorThreshold(
            course_id=course.id,
            patient_id=course.patient_id,
            value_pct=motor_threshold_pct,
            method=motor_threshold_method,
            measured_at=min(now, appointment.ends_at),
            measured_by_id=actor_id,
            coil_location=coil_location or None,
            created_at=now,
        )
    known = thresholds_by_course([course.id])[course.id]
    status = threshold_status(
        appointment.starts_at,
        appointment.ends_at,
        [*known, *([inline_threshold] if inline_threshold else [])],
        rechecks_by_course([course.id])[course.id],
        max_age,
    )
    fields = check_fields(
        {
            "intensity_pct_mt": intensity_pct_mt,
            "pulses_delivered": pulses_delivered,
            "stop_reason": stop_reason,
            "coil_location": coil_location,
            "side_effects": side_effects,
            "comfort_score": comfort_score,
            "adverse_event": adverse_event,
            "notes": notes,
            "supervisor_id": supervisor_id,
        },
        course,
        motor_threshold_pct=status.threshold.value_pct if status.threshold else None,
        completed=bool(completed),
    )
    if status.required:
        message = status.message(max_age)
        raise Invalid(
            message,
            code="motor_threshold_required",
            fields={"motor_threshold_pct": [message]},
            details={"reason": status.due_reason},
        )
    threshold = status.threshold
    assert threshold is not None
    number = session_numbers([appointment])[appointment.id]
    if inline_threshold is not None:
        db.session.add(inline_threshold)
        db.session.flush()
        record(
            actor_id,
            AuditAction.CREATE,
            "motor_threshold",
            inline_threshold.id,
            patient_id=course.patient_id,
            detail={"course_id": course.id, "value_pct": inline_threshold.value_pct},
        )
    log = TreatmentLog(
        appointment_id=appointment.id,
        course_id=course.id,
        patient_id=course.patient_id,
        motor_threshold_id=threshold.id,
        motor_threshold_pct=threshold.value_pct,
        dose_pct_output=dose_pct_output(fields["intensity_pct_mt"], threshold.value_pct),
        completed=bool(completed),
        session_number=number,
        prescribed_pct_mt=pct_for_session(course, number),
        logged_at=now,
        logged_by_id=actor_id,
        **{name: value for name, value in fields.items() if name != "adverse_event"},
    )
    set_field(log, "adverse_event", fields["adverse_event"])
    try:
        with db.session.begin_nested():
            db.session.add(log)
            db.session.flush()
    except IntegrityError:
        raise Conflict(
            "This session was logged at the same moment by someone else.",
            details={"reason": "already_logged"},
        ) from None
    lifecycle.record_session(appointment, delivered=log.completed, actor_id=actor_id)
    record(
        actor_id,
        AuditAction.CREATE,
        "treatment",
        log.id,
        patient_id=log.patient_id,
        detail={"appointment_id": appointment.id, "completed": log.completed},
    )
    react_to_adverse_event(log, actor_id)
    if not log.completed:
        lifecycle.make_up_for(appointment, actor_id)  # a session stopped early is delivered again
    events.treatment_logged.send(None, treatment=log, actor_id=actor_id)
    return log


def loggable_refusal(appointment: Appointment, course: Course, now: datetime) -> Conflict | None:
    """Why this session cannot be logged now, or None: the pages offer "Log session" only
    when the service would accept it, by asking the same question."""
    if appointment.status in NOT_LOGGABLE:
        return Conflict(
            f"This appointment is {appointment.status.replace('_', '-')}: nothing to log.",
            details={"reason": "not_live", "status": appointment.status},
        )
    if appointment.starts_at > now + LOG_WINDOW_BEFORE_START:
        return Conflict(
            "This session starts more than an hour from now; log it when it happens.",
            details={"reason": "too_early"},
        )
    if course.status != CourseStatus.ACTIVE:
        return Conflict(
            f"The course is {course.status.replace('_', ' ')}: no session can be logged "
            "until a clinician makes it active again.",
            details={"reason": "course_not_active", "course_status": course.status},
        )
    return None


def _check_loggable(appointment: Appointment, course: Course, now: datetime) -> None:
    existing = db.session.scalar(
        select(TreatmentLog.id).where(TreatmentLog.appointment_id == appointment.id)
    )
    if existing is not None:
        raise Conflict(
            f"This session is already logged (log {existing}); correct it with an amendment.",
            details={"reason": "already_logged", "treatment_id": existing},
        )
    refusal = loggable_refusal(appointment, course, now)
    if refusal is not None:
        raise refusal
    first = db.session.scalar(
        select(TreatmentLog.id).where(TreatmentLog.course_id == course.id).limit(1)
    )
    if first is None:  # the course starts with this session
        require_consent(course)


def _amend(log: TreatmentLog, name: str, value: Any, reason: str, actor_id: int | None) -> bool:
    """Apply one validated change with its history row; False when nothing changed."""
    clean = check_fields(
        {name: value},
        log.course,
        motor_threshold_pct=log.motor_threshold_pct,
        completed=log.completed,
    )[name]
    old = field_value(log, name)
    if old == clean:
        return False
    set_field(log, name, clean)
    log.amendments.append(
        TreatmentAmendment(
            field=name,
            old_value=old,
            new_value=clean,
            reason=reason,
            at=clock.now(),
            actor_id=actor_id,
        )
    )
    db.session.flush()
    record(
        actor_id,
        AuditAction.AMEND,
        "treatment",
        log.id,
        patient_id=log.patient_id,
        detail={"field": name, "reason": reason},
    )
    if name == "adverse_event" and not needs_safety_hold(old):
        react_to_adverse_event(log, actor_id)
    return True


def amend_treatment(
    treatment_id: int, actor_id: int | None, *, field: str, value: Any, reason: str
) -> TreatmentLog:
    """Correct one field of a log (signed or not) with a reason; the history keeps both values."""
    log = treatment_to_change(treatment_id, actor_id)
    errors: dict[str, list[str]] = {}
    if field not in AMENDABLE_FIELDS:
        errors["field"] = [f"Only these fields can be amended: {', '.join(AMENDABLE_FIELDS)}."]
    try:
        clean_reason = clean_text(reason, MAX_TEXT, required=True)
    except FieldError:
        errors["reason"] = ["Say why the log is corrected."]
    if errors:
        raise Invalid("The amendment has invalid fields.", fields=errors)
    try:
        changed = _amend(log, field, value, clean_reason or "", actor_id)
    except Invalid as exc:
        raise Invalid(exc.message, fields={"value": exc.fields[field]}) from None
    if not changed:
        raise Invalid(
            "The amendment has invalid fields.",
            fields={"value": ["This is already the recorded value."]},
        )
    return log


def edit_treatment(
    treatment_id: int, actor_id: int | None, changes: dict[str, Any]
) -> TreatmentLog:
    """Change an unsigned log in place (each change still lands in its history)."""
    log = treatment_to_change(treatment_id, actor_id)
    if log.signed_at is not None:
        raise Conflict(
            "This log is signed and can no longer change; add an amendment with a reason.",
            details={"reason": "signed"},
        )
    unknown = set(changes) - set(AMENDABLE_FIELDS)
    if unknown:
        raise Invalid(
            "The treatment log has invalid fields.",
            fields={name: ["This field cannot be changed."] for name in sorted(unknown)},
        )
    check_fields(
        changes, log.course, motor_threshold_pct=log.motor_threshold_pct, completed=log.completed
    )
    for name, value in changes.items():
        _amend(log, name, value, "Edited before signing", actor_id)
    return log

"""The rules of a treatment session: motor thresholds, the log, signing, review.

Check-in and the appointment's status belong to `clinic.scheduling.lifecycle`.

Every function takes explicit ids and values (never the request), may flush but never
commits, and raises `clinic.errors` so the page and the API answer the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from clinic import clock, events
from clinic.alerts.models import Alert
from clinic.alerts.services import raise_alert
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.courses.models import Course, Protocol
from clinic.courses.services import set_course_status
from clinic.errors import Conflict, Invalid, NotAllowed, NotFound
from clinic.extensions import db
from clinic.patients.validation import FieldErrors, text
from clinic.permissions import Role
from clinic.scheduling import lifecycle
from clinic.scheduling.models import Appointment
from clinic.treatments.models import (
    SIDE_EFFECTS,
    AdverseEventSeverity,
    AdverseEventType,
    MotorThreshold,
    MotorThresholdRecheck,
    ThresholdMethod,
    TreatmentAmendment,
    TreatmentLog,
)

# A session may be logged from an hour before it starts (the patient is in the chair early).
LOG_WINDOW_BEFORE_START = timedelta(hours=1)
# A measurement "now" may come from a clock a little ahead of the server's.
CLOCK_TOLERANCE = timedelta(minutes=5)
MAX_DEVICE_OUTPUT_PCT = 100
MAX_TEXT = 2000
MAX_LOCATION = 200
# Fields a log's author or a clinician may correct after the fact (never `completed`:
# whether a session was delivered changes the course's count and is a new log's business).
AMENDABLE_FIELDS = (
    "intensity_pct_mt",
    "pulses_delivered",
    "coil_location",
    "stop_reason",
    "side_effects",
    "comfort_score",
    "adverse_event",
    "notes",
)
DUE_MESSAGES = {
    "first_session": "No motor threshold on this course yet: measure it at the first session.",
    "expired": "The last motor threshold is more than {days} days before this session.",
    "medication_change": "A medication change was recorded since the last motor threshold.",
}


# --- loading -----------------------------------------------------------------------------


def _appointment(appointment_id: int, *, for_update: bool = False) -> Appointment:
    query = (
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .options(joinedload(Appointment.course).joinedload(Course.protocol))
    )
    if for_update:
        query = query.with_for_update(of=Appointment)
    appointment = db.session.scalar(query)
    if appointment is None:
        raise NotFound(f"No appointment {appointment_id}.")
    return appointment


def get_course(course_id: int) -> Course:
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound(f"No course {course_id}.")
    return course


def get_treatment(treatment_id: int) -> TreatmentLog:
    log = db.session.scalar(
        select(TreatmentLog)
        .where(TreatmentLog.id == treatment_id)
        .options(
            joinedload(TreatmentLog.course).joinedload(Course.protocol),
            joinedload(TreatmentLog.appointment),
            selectinload(TreatmentLog.amendments).joinedload(TreatmentAmendment.actor),
        )
    )
    if log is None:
        raise NotFound(f"No treatment log {treatment_id}.")
    return log


def _user(user_id: int | None) -> User | None:
    return db.session.get(User, user_id) if user_id is not None else None


def _local_date(instant: datetime) -> date:
    return clock.to_local(instant).date()


# --- motor thresholds --------------------------------------------------------------------


def record_motor_threshold(
    course_id: int,
    actor_id: int | None,
    *,
    value_pct: int,
    method: str,
    measured_at: datetime | None = None,
    coil_location: str | None = None,
    notes: str | None = None,
) -> MotorThreshold:
    """Store a measurement; `measured_at` may be in the past (back-entry), never the future."""
    course = get_course(course_id)
    now = clock.now()
    errors: dict[str, list[str]] = {}
    if isinstance(value_pct, bool) or not isinstance(value_pct, int) or not 1 <= value_pct <= 100:
        errors["value_pct"] = ["Enter the threshold as a whole % of machine output, 1 to 100."]
    if method not in tuple(ThresholdMethod):
        errors["method"] = [f"Use one of: {', '.join(ThresholdMethod)}."]
    if measured_at is not None and measured_at > now + CLOCK_TOLERANCE:
        errors["measured_at"] = ["A motor threshold cannot be measured in the future."]
    if errors:
        raise Invalid("The motor threshold has invalid fields.", fields=errors)
    threshold = MotorThreshold(
        course_id=course.id,
        patient_id=course.patient_id,
        value_pct=value_pct,
        method=method,
        # In UTC as the database gives it back: the answer is not reloaded.
        measured_at=(measured_at or now).astimezone(UTC),
        measured_by_id=actor_id,
        coil_location=coil_location or None,
        notes=notes or None,
        created_at=now,
    )
    db.session.add(threshold)
    db.session.flush()
    record(
        actor_id,
        AuditAction.CREATE,
        "motor_threshold",
        threshold.id,
        patient_id=course.patient_id,
        detail={"course_id": course.id, "value_pct": value_pct, "method": method},
    )
    return threshold


def list_motor_thresholds(course_id: int) -> Sequence[MotorThreshold]:
    """Newest first (a course has a few dozen at most)."""
    get_course(course_id)
    return db.session.scalars(
        select(MotorThreshold)
        .where(MotorThreshold.course_id == course_id)
        .options(joinedload(MotorThreshold.measured_by))
        .order_by(MotorThreshold.measured_at.desc(), MotorThreshold.id.desc())
    ).all()


def request_motor_threshold_recheck(
    patient_id: int, reason: str, actor_id: int | None
) -> list[MotorThresholdRecheck]:
    """Ask for a new MT on each of the patient's running courses (active or on hold)."""
    now = clock.now()
    courses = db.session.scalars(
        select(Course).where(
            Course.patient_id == patient_id, Course.status.in_(("active", "on_hold"))
        )
    ).all()
    rechecks = []
    for course in courses:
        recheck = MotorThresholdRecheck(
            course_id=course.id, requested_at=now, reason=reason[:200], requested_by_id=actor_id
        )
        db.session.add(recheck)
        rechecks.append(recheck)
    db.session.flush()
    for recheck in rechecks:
        record(
            actor_id,
            AuditAction.REQUEST_MT_RECHECK,
            "course",
            recheck.course_id,
            patient_id=patient_id,
            detail={"reason": recheck.reason},
        )
    return rechecks


@dataclass(frozen=True)
class ThresholdStatus:
    """Which MT a session uses, and why a new one is needed when it is."""

    threshold: MotorThreshold | None  # the one in effect (None when due)
    latest: MotorThreshold | None  # the newest known one, for display
    due_reason: str | None  # first_session, expired, medication_change, or None

    @property
    def required(self) -> bool:
        return self.due_reason is not None

    def message(self, max_age_days: int) -> str:
        return DUE_MESSAGES[self.due_reason or "expired"].format(days=max_age_days)


def mt_max_age_days() -> int:
    return int(current_app.config.get("CLINIC_MT_MAX_AGE_DAYS", 7))


def threshold_status(
    starts_at: datetime,
    ends_at: datetime,
    thresholds: Iterable[MotorThreshold],
    recheck_times: Iterable[datetime],
    max_age_days: int,
) -> ThresholdStatus:
    """Decide whether the session at [starts_at, ends_at) has a usable motor threshold.

    Age counts in calendar days of the clinic's time zone from the appointment's start
    (not from when someone types), so a Monday MT serves through next Monday across a
    daylight-saving change. An MT taken at the session or entered late for it counts.
    A re-check requested before the session ended needs an MT measured after the request.
    """
    ordered = sorted(thresholds, key=lambda t: (t.measured_at, t.id or 0))
    latest = ordered[-1] if ordered else None
    if not ordered:
        return ThresholdStatus(None, None, "first_session")
    oldest_usable = _local_date(starts_at) - timedelta(days=max_age_days)
    usable = [t for t in ordered if _local_date(t.measured_at) >= oldest_usable]
    pending = [at for at in recheck_times if at < ends_at]
    if pending:
        since = max(pending)
        usable = [t for t in usable if t.measured_at >= since]
        if not usable:
            return ThresholdStatus(None, latest, "medication_change")
    if not usable:
        return ThresholdStatus(None, latest, "expired")
    before_end = [t for t in usable if t.measured_at <= ends_at]
    in_effect = before_end[-1] if before_end else usable[0]
    return ThresholdStatus(in_effect, latest, None)


def thresholds_by_course(course_ids: Iterable[int]) -> dict[int, list[MotorThreshold]]:
    ids = set(course_ids)
    found: dict[int, list[MotorThreshold]] = {course_id: [] for course_id in ids}
    if ids:
        for threshold in db.session.scalars(
            select(MotorThreshold).where(MotorThreshold.course_id.in_(ids))
        ):
            found[threshold.course_id].append(threshold)
    return found


def rechecks_by_course(course_ids: Iterable[int]) -> dict[int, list[datetime]]:
    ids = set(course_ids)
    found: dict[int, list[datetime]] = {course_id: [] for course_id in ids}
    if ids:
        rows = db.session.execute(
            select(MotorThresholdRecheck.course_id, MotorThresholdRecheck.requested_at).where(
                MotorThresholdRecheck.course_id.in_(ids)
            )
        )
        for course_id, requested_at in rows:
            found[course_id].append(requested_at)
    return found


def dose_pct_output(intensity_pct_mt: int, motor_threshold_pct: int) -> float:
    """Dose in % of machine output = %MT x MT / 100 (one decimal, as the device shows it)."""
    return round(intensity_pct_mt * motor_threshold_pct / 100, 1)


# --- field rules (shared by the log, edits and amendments) ----------------------------


class _FieldError(Exception):
    pass


def _whole_number(value: Any, low: int, high: int, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _FieldError(message)
    return value


def _text(value: Any, limit: int, *, required: bool = False) -> str | None:
    """The intake rule for text (trimmed, bounded, storable), as this module's field error."""
    errors = FieldErrors()
    cleaned = text(limit, required=required, multiline=True)(errors, "value", value)
    if errors:
        raise _FieldError(errors.fields["value"][0])
    return cleaned


def _side_effects(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise _FieldError("Give a list of side-effect codes.")
    unknown = [code for code in value if code not in SIDE_EFFECTS]
    if unknown:
        raise _FieldError(
            f"Unknown side effect {unknown[0]!r}; use: {', '.join(SIDE_EFFECTS)}."[:300]
        )
    return list(dict.fromkeys(value))


def _adverse_event(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"type", "severity", "description"}:
        raise _FieldError("Give {type, severity, description}.")
    if value.get("type") not in tuple(AdverseEventType):
        raise _FieldError(f"Adverse event type must be one of: {', '.join(AdverseEventType)}.")
    if value.get("severity") not in tuple(AdverseEventSeverity):
        raise _FieldError(
            f"Adverse event severity must be one of: {', '.join(AdverseEventSeverity)}."
        )
    return {
        "type": value["type"],
        "severity": value["severity"],
        "description": _text(value.get("description"), MAX_TEXT),
    }


def _check_field(
    name: str, value: Any, course: Course, *, motor_threshold_pct: int | None, completed: bool
) -> Any:
    """Validate one log field against the course's prescription; return the clean value."""
    protocol: Protocol = course.protocol
    if name == "intensity_pct_mt":
        intensity = _whole_number(
            value,
            1,
            course.prescribed_pct_mt,
            f"Intensity must be 1 to {course.prescribed_pct_mt}% MT: the course prescribes "
            f"{course.prescribed_pct_mt}% MT and a session may never exceed it.",
        )
        if (
            motor_threshold_pct is not None
            and dose_pct_output(intensity, motor_threshold_pct) > MAX_DEVICE_OUTPUT_PCT
        ):
            raise _FieldError(
                f"{intensity}% of an MT of {motor_threshold_pct}% is "
                f"{dose_pct_output(intensity, motor_threshold_pct)}% of machine output, "
                "more than the device can deliver."
            )
        return intensity
    if name == "pulses_delivered":
        return _whole_number(
            value,
            0,
            protocol.total_pulses,
            f"Pulses must be 0 to {protocol.total_pulses}: the {protocol.code} protocol "
            f"delivers {protocol.total_pulses} pulses a session.",
        )
    if name == "comfort_score":
        return None if value is None else _whole_number(value, 0, 10, "Comfort is scored 0 to 10.")
    if name == "stop_reason":
        try:
            return _text(value, MAX_TEXT, required=not completed)
        except _FieldError as exc:
            if value is None or not str(value).strip():
                raise _FieldError("An incomplete session needs a stop reason.") from exc
            raise
    if name == "coil_location":
        return _text(value, MAX_LOCATION)
    if name == "notes":
        return _text(value, MAX_TEXT * 2)
    if name == "side_effects":
        return _side_effects(value)
    if name == "adverse_event":
        return _adverse_event(value)
    raise _FieldError(f"{name} cannot be changed.")


def _check_fields(
    values: dict[str, Any], course: Course, *, motor_threshold_pct: int | None, completed: bool
) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        try:
            clean[name] = _check_field(
                name, value, course, motor_threshold_pct=motor_threshold_pct, completed=completed
            )
        except _FieldError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise Invalid("The treatment log has invalid fields.", fields=errors)
    return clean


def _field_value(log: TreatmentLog, name: str) -> Any:
    if name == "adverse_event":
        return log.adverse_event
    if name == "side_effects":
        return list(log.side_effects or [])
    return getattr(log, name)


def _set_field(log: TreatmentLog, name: str, value: Any) -> None:
    if name == "adverse_event":
        event = value or {}
        log.adverse_event_type = event.get("type")
        log.adverse_event_severity = event.get("severity")
        log.adverse_event_description = event.get("description")
        return
    setattr(log, name, value)
    if name == "intensity_pct_mt" and log.motor_threshold_pct is not None:
        log.dose_pct_output = dose_pct_output(value, log.motor_threshold_pct)


# --- safety ------------------------------------------------------------------------------


def needs_safety_hold(adverse_event: dict[str, Any] | None) -> bool:
    """A seizure or any serious event stops the course until a clinician acts."""
    return bool(adverse_event) and (
        adverse_event["type"] == "seizure" or adverse_event["severity"] == "serious"
    )


def _react_to_adverse_event(log: TreatmentLog, actor_id: int | None) -> None:
    event = log.adverse_event
    if not needs_safety_hold(event):
        return
    assert event is not None
    label = f"{event['type'].replace('_', ' ')} ({event['severity']})"
    raise_alert(
        "adverse_event",
        f"Adverse event during TMS: {label}",
        message=(event["description"] or "")
        + " The course is on hold until a clinician reviews it.",
        severity="urgent",
        audience="clinician",
        patient_id=log.patient_id,
        course_id=log.course_id,
        assigned_to_id=log.course.prescriber_id,
        subject=("treatment", log.id),
        dedupe_key=f"treatment:{log.id}",
        data={"treatment_id": log.id, **event},
        actor_id=actor_id,
    )
    set_course_status(
        log.course,
        "on_hold",
        f"Adverse event: {label} (treatment log {log.id})",
        actor_id=actor_id,
        is_admin=True,  # a safety hold is the system's act, whoever logged the event
    )


# --- the treatment log -------------------------------------------------------------------


def log_treatment(
    appointment_id: int,
    actor_id: int | None,
    *,
    intensity_pct_mt: Any,
    pulses_delivered: Any,
    completed: bool,
    motor_threshold_pct: int | None = None,
    motor_threshold_method: str = "visual",
    coil_location: str | None = None,
    stop_reason: str | None = None,
    side_effects: list[str] | None = None,
    comfort_score: int | None = None,
    adverse_event: dict[str, Any] | None = None,
    notes: str | None = None,
) -> TreatmentLog:
    """Record what was delivered. Everything is checked before anything is written, so a
    refused log leaves no motor threshold, no alert and no status change behind."""
    appointment = _appointment(appointment_id, for_update=True)
    course = appointment.course
    now = clock.now()
    _check_loggable(appointment, course, now)
    max_age = mt_max_age_days()

    inline_threshold = None
    if motor_threshold_pct is not None:
        try:
            _whole_number(motor_threshold_pct, 1, 100, "")
        except _FieldError:
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
    fields = _check_fields(
        {
            "intensity_pct_mt": intensity_pct_mt,
            "pulses_delivered": pulses_delivered,
            "stop_reason": stop_reason,
            "coil_location": coil_location,
            "side_effects": side_effects,
            "comfort_score": comfort_score,
            "adverse_event": adverse_event,
            "notes": notes,
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
        logged_at=now,
        logged_by_id=actor_id,
        **{name: value for name, value in fields.items() if name != "adverse_event"},
    )
    _set_field(log, "adverse_event", fields["adverse_event"])
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
    _react_to_adverse_event(log, actor_id)
    if not log.completed:
        lifecycle.make_up_for(appointment, actor_id)  # a session stopped early is delivered again
    events.treatment_logged.send(None, treatment=log, actor_id=actor_id)
    return log


def _check_loggable(appointment: Appointment, course: Course, now: datetime) -> None:
    if appointment.status in ("cancelled", "no_show"):
        raise Conflict(
            f"This appointment is {appointment.status.replace('_', '-')}: nothing to log.",
            details={"reason": "not_live", "status": appointment.status},
        )
    existing = db.session.scalar(
        select(TreatmentLog.id).where(TreatmentLog.appointment_id == appointment.id)
    )
    if existing is not None:
        raise Conflict(
            f"This session is already logged (log {existing}); correct it with an amendment.",
            details={"reason": "already_logged", "treatment_id": existing},
        )
    if appointment.starts_at > now + LOG_WINDOW_BEFORE_START:
        raise Conflict(
            "This session starts more than an hour from now; log it when it happens.",
            details={"reason": "too_early"},
        )
    if course.status != "active":
        raise Conflict(
            f"The course is {course.status.replace('_', ' ')}: no session can be logged "
            "until a clinician makes it active again.",
            details={"reason": "course_not_active", "course_status": course.status},
        )


def _amend(log: TreatmentLog, name: str, value: Any, reason: str, actor_id: int | None) -> bool:
    """Apply one validated change with its history row; False when nothing changed."""
    clean = _check_fields(
        {name: value},
        log.course,
        motor_threshold_pct=log.motor_threshold_pct,
        completed=log.completed,
    )[name]
    old = _field_value(log, name)
    if old == clean:
        return False
    _set_field(log, name, clean)
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
        _react_to_adverse_event(log, actor_id)
    return True


def amend_treatment(
    treatment_id: int, actor_id: int | None, *, field: str, value: Any, reason: str
) -> TreatmentLog:
    """Correct one field of a log (signed or not) with a reason; the history keeps both values."""
    log = get_treatment(treatment_id)
    errors: dict[str, list[str]] = {}
    if field not in AMENDABLE_FIELDS:
        errors["field"] = [f"Only these fields can be amended: {', '.join(AMENDABLE_FIELDS)}."]
    try:
        clean_reason = _text(reason, MAX_TEXT, required=True)
    except _FieldError:
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
    log = get_treatment(treatment_id)
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
    _check_fields(
        changes, log.course, motor_threshold_pct=log.motor_threshold_pct, completed=log.completed
    )
    for name, value in changes.items():
        _amend(log, name, value, "Edited before signing", actor_id)
    return log


def sign_treatment(treatment_id: int, actor_id: int) -> TreatmentLog:
    """The author attests the log; a clinician or admin may sign for them. Signed is final."""
    log = get_treatment(treatment_id)
    actor = _user(actor_id)
    if actor is None:
        raise NotAllowed("Sign in to sign a log.")
    if log.signed_at is not None:
        raise Conflict("This log is already signed.", details={"reason": "already_signed"})
    if actor.role == Role.TECHNICIAN and log.logged_by_id != actor.id:
        raise NotAllowed(
            "Only the technician who logged this session, or a clinician or admin, may sign it."
        )
    _sign(log, actor_id)
    return log


def _sign(log: TreatmentLog, actor_id: int) -> None:
    log.signed_at = clock.now()
    log.signed_by_id = actor_id
    db.session.flush()
    record(actor_id, AuditAction.SIGN, "treatment", log.id, patient_id=log.patient_id)


def _review(log: TreatmentLog, actor_id: int) -> None:
    if log.signed_at is None:
        _sign(log, actor_id)
    log.reviewed_at = clock.now()
    log.reviewed_by_id = actor_id
    db.session.flush()
    record(actor_id, AuditAction.REVIEW, "treatment", log.id, patient_id=log.patient_id)


def review_treatment(treatment_id: int, actor_id: int) -> TreatmentLog:
    """A clinician's review. An unsigned log is signed in the reviewer's name first, so a
    reviewed log is always a signed, frozen one."""
    log = get_treatment(treatment_id)
    if log.reviewed_at is not None:
        raise Conflict("This log is already reviewed.", details={"reason": "already_reviewed"})
    _review(log, actor_id)
    return log


def review_treatments(treatment_ids: Iterable[int], actor_id: int) -> list[TreatmentLog]:
    """Bulk review from the queue; logs someone else reviewed meanwhile are skipped."""
    ids = {int(i) for i in treatment_ids}
    if not ids:
        return []
    logs = db.session.scalars(
        select(TreatmentLog)
        .where(TreatmentLog.id.in_(ids), TreatmentLog.reviewed_at.is_(None))
        .order_by(TreatmentLog.id)
    ).all()
    for log in logs:
        _review(log, actor_id)
    return list(logs)


def list_treatments(
    *,
    course_id: int | None = None,
    patient_id: int | None = None,
    status: str | None = None,
    limit: int = 200,
) -> Sequence[TreatmentLog]:
    """Logs, oldest session first; status `unsigned`, `unreviewed` (not yet reviewed,
    signed or not) or `reviewed`."""
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
    return db.session.scalars(query.limit(limit)).all()


# --- the daily check -----------------------------------------------------------------------


def check_motor_threshold_due(now: datetime) -> int:
    """Open a `motor_threshold_due` alert (for technicians, one per course) for every active
    course whose next appointment will need a new MT. Returns how many alerts it opened."""
    upcoming = (
        select(Appointment.course_id, func.min(Appointment.starts_at).label("next_start"))
        .where(Appointment.status.in_(("scheduled", "checked_in")), Appointment.starts_at >= now)
        .group_by(Appointment.course_id)
        .subquery()
    )
    appointments = db.session.scalars(
        select(Appointment)
        .join(
            upcoming,
            (Appointment.course_id == upcoming.c.course_id)
            & (Appointment.starts_at == upcoming.c.next_start),
        )
        .join(Appointment.course)
        .where(Course.status == "active", Appointment.status.in_(("scheduled", "checked_in")))
        .options(joinedload(Appointment.patient))
    ).all()
    next_by_course = {a.course_id: a for a in appointments}
    thresholds = thresholds_by_course(next_by_course)
    rechecks = rechecks_by_course(next_by_course)
    max_age = mt_max_age_days()
    already_open = set(
        db.session.scalars(
            select(Alert.dedupe_key).where(
                Alert.kind == "motor_threshold_due", Alert.status == "open"
            )
        )
    )
    opened = 0
    for course_id, appointment in sorted(next_by_course.items()):
        status = threshold_status(
            appointment.starts_at,
            appointment.ends_at,
            thresholds[course_id],
            rechecks[course_id],
            max_age,
        )
        key = f"course:{course_id}"
        if not status.required or key in already_open:
            continue
        raise_alert(
            "motor_threshold_due",
            f"Motor threshold due: {appointment.patient.full_name}, "
            f"{clock.to_local(appointment.starts_at):%a %d %b %H:%M}",
            message=status.message(max_age),
            severity="warning",
            audience="technician",
            patient_id=appointment.patient_id,
            course_id=course_id,
            subject=("appointment", appointment.id),
            dedupe_key=key,
            data={"reason": status.due_reason, "appointment_id": appointment.id},
        )
        opened += 1
    return opened

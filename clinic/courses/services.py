"""Protocols, prescribing courses, their status, their numbers and their authorizations.

Every rule about a course lives here; the pages and the JSON API both call these
functions. Other features call `set_course_status` (a seizure puts a course on hold),
`course_summary` and `check_authorization`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from clinic import clock, events
from clinic.alerts.models import Alert
from clinic.alerts.services import raise_alert
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.courses.models import FINAL_STATUSES, Course, CourseStatus, Protocol, SchedulePattern
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.patients.models import Authorization, Patient, Screening
from clinic.patients.records import add_authorization, clean_authorization
from clinic.patients.validation import FieldErrors, text
from clinic.permissions import Permission, role_can
from clinic.scheduling import lifecycle
from clinic.scheduling.models import Appointment
from clinic.scheduling.progress import (
    PENDING_STATUSES,
    SESSION_KIND,
    course_progress,
    projected_ends,
)

REASON_REQUIRED = ("on_hold", "discontinued")
MAX_PLANNED_SESSIONS = 100
MAX_PCT_MT = 150
LOW_AUTHORIZATION_SESSIONS = 3
AUTHORIZATION_ALERT_KIND = "authorization"

# Protocol fields that define the stimulation itself: fixed on presets, and on clinic
# protocols once a course uses them (changing them would rewrite past prescriptions).
STIMULATION_FIELDS = (
    "frequency_hz",
    "pulses_per_train",
    "train_seconds",
    "inter_train_seconds",
    "trains",
    "intensity_pct_mt",
    "pattern",
    "sessions_per_day",
    "min_gap_minutes",
)
# What a clinic may still change on a preset: its chair time and whether it is offered.
PRESET_EDITABLE_FIELDS = ("setup_buffer_minutes", "active")
PROTOCOL_FIELDS = (
    "code",
    "name",
    "indication",
    "target",
    "frequency_note",
    "reference",
    "default_sessions",
    "setup_buffer_minutes",
    "active",
    *STIMULATION_FIELDS,
)
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
MAX_SESSION_SECONDS = 2 * 3600

_INT_RANGES: dict[str, tuple[int, int]] = {
    "pulses_per_train": (1, 10_000),
    "trains": (1, 1_000),
    "intensity_pct_mt": (1, MAX_PCT_MT),
    "default_sessions": (1, MAX_PLANNED_SESSIONS),
    "sessions_per_day": (1, 10),
    "min_gap_minutes": (0, 240),
    "setup_buffer_minutes": (0, 60),
}
_FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {
    # name: (low, high, low is exclusive)
    "frequency_hz": (0.0, 100.0, True),
    "train_seconds": (0.0, 3600.0, True),
    "inter_train_seconds": (0.0, 600.0, False),
}
_TEXT_LIMITS = {
    "name": 120,
    "indication": 120,
    "target": 120,
    "frequency_note": 120,
    "reference": 200,
}
_REQUIRED_TEXT = ("name", "indication", "target")


# --- Protocols -------------------------------------------------------------------------


def list_protocols(*, include_inactive: bool = False) -> Sequence[Protocol]:
    """Presets first, then the clinic's own, by name."""
    query = select(Protocol).order_by(Protocol.is_preset.desc(), Protocol.name)
    if not include_inactive:
        query = query.where(Protocol.active.is_(True))
    return db.session.scalars(query).all()


def get_protocol(code: str) -> Protocol:
    protocol = db.session.scalar(select(Protocol).where(Protocol.code == code))
    if protocol is None:
        raise NotFound(f"No protocol {code!r}.")
    return protocol


def _check_protocol_values(values: dict[str, Any]) -> dict[str, list[str]]:
    """Field errors for a complete set of protocol values (after defaults and changes)."""
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    code = values.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        fail("code", "2-40 lower-case letters, digits and dashes, starting with a letter or digit.")
    for name, limit in _TEXT_LIMITS.items():
        text = values.get(name)
        if text is None:
            if name in _REQUIRED_TEXT:
                fail(name, "Required.")
        elif not isinstance(text, str) or len(text) > limit:
            fail(name, f"At most {limit} characters.")
        elif name in _REQUIRED_TEXT and not text.strip():
            fail(name, "Required.")
    for name, (low, high) in _INT_RANGES.items():
        number = values.get(name)
        if isinstance(number, bool) or not isinstance(number, int):
            fail(name, "A whole number is required.")
        elif not low <= number <= high:
            fail(name, f"Between {low} and {high}.")
    for name, (low, high, exclusive) in _FLOAT_RANGES.items():
        number = values.get(name)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            fail(name, "A number is required.")
        elif number > high or number < low or (exclusive and number == low):
            fail(name, f"{'Above' if exclusive else 'At least'} {low:g} and at most {high:g}.")
    if values.get("pattern") not in tuple(SchedulePattern):
        fail("pattern", f"One of {', '.join(SchedulePattern)}.")
    elif values["pattern"] != "accelerated" and values.get("sessions_per_day") != 1:
        fail("sessions_per_day", "Only an accelerated protocol has more than one a day.")
    total = values.get("total_pulses")
    if errors.keys().isdisjoint({"trains", "pulses_per_train"}):
        computed = values["trains"] * values["pulses_per_train"]
        if total is not None and total != computed:
            fail(
                "total_pulses",
                f"{values['trains']} trains x {values['pulses_per_train']} pulses is "
                f"{computed}, not {total}.",
            )
        if errors.keys().isdisjoint({"train_seconds", "inter_train_seconds"}):
            seconds = (
                values["trains"] * values["train_seconds"]
                + (values["trains"] - 1) * values["inter_train_seconds"]
            )
            if seconds > MAX_SESSION_SECONDS:
                fail("trains", f"The session would last {seconds / 60:.0f} minutes; at most 120.")
    return errors


def _protocol_values(protocol: Protocol) -> dict[str, Any]:
    return {name: getattr(protocol, name) for name in PROTOCOL_FIELDS}


def create_protocol(values: dict[str, Any], *, actor_id: int | None) -> Protocol:
    """A clinic-defined protocol; the six published presets come from the migrations."""
    merged: dict[str, Any] = {
        "setup_buffer_minutes": 10,
        "sessions_per_day": 1,
        "min_gap_minutes": 0,
        "inter_train_seconds": 0.0,
        "active": True,
        "frequency_note": None,
        "reference": None,
        "total_pulses": None,
        **values,
    }
    unknown = set(merged) - set(PROTOCOL_FIELDS) - {"total_pulses"}
    if unknown:
        raise Invalid("Unknown fields.", fields={name: ["Unknown field."] for name in unknown})
    errors = _check_protocol_values(merged)
    if errors:
        raise Invalid("The protocol has invalid values.", fields=errors)
    if db.session.scalar(select(Protocol.id).where(Protocol.code == merged["code"])):
        raise Conflict(
            f"A protocol with code {merged['code']!r} exists.",
            code="protocol_exists",
            fields={"code": ["Already used."]},
        )
    merged.pop("total_pulses")
    protocol = Protocol(is_preset=False, **merged)
    db.session.add(protocol)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "protocol", protocol.id, detail={"code": protocol.code})
    return protocol


def _protocol_in_use(protocol: Protocol) -> bool:
    return (
        db.session.scalar(select(Course.id).where(Course.protocol_id == protocol.id).limit(1))
        is not None
    )


def update_protocol(
    protocol: Protocol, changes: dict[str, Any], *, actor_id: int | None
) -> Protocol:
    """Edit a protocol. Presets keep their published parameters; so does any protocol a
    course was prescribed with (its name, notes, buffer and availability may change)."""
    unknown = set(changes) - set(PROTOCOL_FIELDS) - {"total_pulses"}
    if unknown:
        raise Invalid("Unknown fields.", fields={name: ["Unknown field."] for name in unknown})
    current = _protocol_values(protocol)
    altered = {
        name for name, value in changes.items() if name == "total_pulses" or current[name] != value
    }
    if "code" in altered:
        raise Invalid("A protocol's code never changes.", fields={"code": ["Read-only."]})
    if protocol.is_preset:
        fixed = sorted(altered - set(PRESET_EDITABLE_FIELDS) - {"total_pulses"})
        if fixed:
            raise Conflict(
                "A published preset is read-only; only its set-up buffer and availability "
                "change. Create a clinic protocol for other parameters.",
                code="preset_read_only",
                fields={name: ["Read-only on a preset."] for name in fixed},
            )
    else:
        fixed = sorted(altered & set(STIMULATION_FIELDS))
        if fixed and _protocol_in_use(protocol):
            raise Conflict(
                "Courses were prescribed with this protocol, so its stimulation parameters "
                "are fixed. Create a new protocol instead.",
                code="protocol_in_use",
                fields={name: ["Fixed once a course uses the protocol."] for name in fixed},
            )
    merged = {**current, "total_pulses": None, **changes}
    errors = _check_protocol_values(merged)
    if errors:
        raise Invalid("The protocol has invalid values.", fields=errors)
    for name in altered - {"total_pulses"}:
        setattr(protocol, name, merged[name])
    db.session.flush()
    if altered - {"total_pulses"}:
        record(
            actor_id,
            AuditAction.UPDATE,
            "protocol",
            protocol.id,
            detail={"fields": sorted(altered - {"total_pulses"})},
        )
    return protocol


# --- Prescribing -----------------------------------------------------------------------


def latest_screening(patient_id: int) -> Screening | None:
    return db.session.scalar(
        select(Screening)
        .where(Screening.patient_id == patient_id)
        .order_by(Screening.version.desc())
        .limit(1)
    )


def ensure_cleared_for_treatment(patient_id: int) -> Screening:
    """The contract's three refusals, most fundamental first."""
    screening = latest_screening(patient_id)
    if screening is None:
        raise Conflict(
            "The patient has no TMS safety screening; screen them before prescribing.",
            code="screening_required",
        )
    if screening.result == "contraindicated":
        raise Conflict(
            "The latest safety screening is contraindicated: TMS must not be prescribed.",
            code="screening_contraindicated",
        )
    if not screening.cleared_for_treatment:
        raise Conflict(
            "The latest safety screening needs a clinician's review and sign-off first.",
            code="screening_review_required",
        )
    return screening


def _is_whole(value: Any) -> bool:
    """An id we may send to the database: an int, not a bool, within a 32-bit key."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def _text(value: Any, name: str, limit: int, errors: dict[str, list[str]]) -> str | None:
    """The intake rule for text (trimmed, bounded, storable), into this module's errors."""
    found = FieldErrors()
    cleaned = text(limit, multiline=True)(found, name, value)
    for field_name, messages in found.fields.items():
        errors.setdefault(field_name, []).extend(messages)
    return cleaned


def _check_intensity(
    pct_mt: Any, reason: str | None, protocol: Protocol, errors: dict[str, list[str]]
) -> None:
    if isinstance(pct_mt, bool) or not isinstance(pct_mt, int) or not 1 <= pct_mt <= MAX_PCT_MT:
        errors.setdefault("prescribed_pct_mt", []).append(f"Between 1 and {MAX_PCT_MT} %MT.")
    elif pct_mt > protocol.intensity_pct_mt and not reason:
        errors.setdefault("pct_mt_reason", []).append(
            f"{pct_mt} %MT is above the protocol's {protocol.intensity_pct_mt} %MT: "
            "give the clinical reason."
        )


def _check_planned(planned: Any, errors: dict[str, list[str]], minimum: int = 1) -> None:
    if (
        isinstance(planned, bool)
        or not isinstance(planned, int)
        or not max(minimum, 1) <= planned <= MAX_PLANNED_SESSIONS
    ):
        errors.setdefault("planned_sessions", []).append(
            f"Between {max(minimum, 1)} and {MAX_PLANNED_SESSIONS}."
        )


def _prescriber(
    prescriber_id: int | None, actor_id: int | None, errors: dict[str, list[str]]
) -> int | None:
    chosen = prescriber_id if prescriber_id is not None else actor_id
    if chosen is None:
        return None
    user = db.session.get(User, chosen) if _is_whole(chosen) else None
    if user is None or not user.active or not role_can(user.role, Permission.PRESCRIBE):
        errors.setdefault("prescriber_id", []).append("Not an active clinician.")
        return None
    return user.id


def _new_authorization(data: Any, errors: dict[str, list[str]]) -> dict[str, Any] | None:
    """The checked fields of an authorization given with the prescription (the patients
    feature's rules), its errors named `authorization.<field>`."""
    if not isinstance(data, dict):
        errors.setdefault("authorization", []).append("An object.")
        return None
    try:
        return clean_authorization(data)
    except Invalid as exc:
        for name, messages in exc.fields.items():
            errors[f"authorization.{name}"] = messages
        return None


def _existing_authorization(
    patient_id: int, authorization_id: Any, errors: dict[str, list[str]]
) -> Authorization | None:
    found = db.session.get(Authorization, authorization_id) if _is_whole(authorization_id) else None
    if found is None or found.patient_id != patient_id:
        errors["authorization_id"] = ["Not an authorization of this patient."]
        return None
    return found


def prescribe_course(
    patient_id: int,
    protocol_code: str,
    *,
    planned_sessions: int | None = None,
    prescribed_pct_mt: int | None = None,
    pct_mt_reason: str | None = None,
    target: str | None = None,
    notes: str | None = None,
    prescriber_id: int | None = None,
    authorization: dict[str, Any] | None = None,
    authorization_id: int | None = None,
    actor_id: int | None,
) -> Course:
    """Prescribe a course of a protocol for a screened patient.

    Input errors answer 422 (all fields at once); then the screening decides (409
    `screening_required`, `screening_contraindicated`, `screening_review_required`).
    """
    errors: dict[str, list[str]] = {}
    patient = db.session.get(Patient, patient_id) if _is_whole(patient_id) else None
    if patient is None:
        errors["patient_id"] = ["No such patient."]
    protocol = db.session.scalar(select(Protocol).where(Protocol.code == protocol_code))
    if protocol is None or not protocol.active:
        errors["protocol"] = ["No active protocol with this code."]
    planned = (
        planned_sessions
        if planned_sessions is not None
        else (protocol.default_sessions if protocol else 1)
    )
    _check_planned(planned, errors)
    reason = _text(pct_mt_reason, "pct_mt_reason", 2000, errors)
    target_text = _text(target, "target", 120, errors)
    notes_text = _text(notes, "notes", 5000, errors)
    prescriber = _prescriber(prescriber_id, actor_id, errors)
    pct_mt = prescribed_pct_mt
    if protocol is not None:
        pct_mt = pct_mt if pct_mt is not None else protocol.intensity_pct_mt
        _check_intensity(pct_mt, reason, protocol, errors)
    attached: Authorization | None = None
    new_authorization: dict[str, Any] | None = None
    if authorization is not None and authorization_id is not None:
        errors["authorization"] = ["Give a new authorization or authorization_id, not both."]
    elif patient is not None and authorization is not None:
        new_authorization = _new_authorization(authorization, errors)
    elif patient is not None and authorization_id is not None:
        attached = _existing_authorization(patient.id, authorization_id, errors)
    if errors:
        raise Invalid("The prescription has invalid fields.", fields=errors)
    assert patient is not None and protocol is not None
    ensure_cleared_for_treatment(patient.id)

    if new_authorization is not None:
        attached = add_authorization(patient, new_authorization, actor_id=actor_id)
    course = Course(
        patient_id=patient.id,
        protocol_id=protocol.id,
        status="active",
        status_changed_at=clock.now(),
        planned_sessions=planned,
        prescribed_pct_mt=pct_mt,
        pct_mt_reason=reason,
        target=target_text or protocol.target,
        notes=notes_text,
        prescriber_id=prescriber,
        authorization_id=attached.id if attached else None,
        created_at=clock.now(),
    )
    db.session.add(course)
    db.session.flush()
    record(
        actor_id,
        AuditAction.CREATE,
        "course",
        course.id,
        patient_id=patient.id,
        detail={"protocol": protocol.code, "planned_sessions": planned, "pct_mt": pct_mt},
    )
    return course


def get_course(course_id: int) -> Course:
    course = db.session.scalar(
        select(Course)
        .options(
            joinedload(Course.protocol),
            joinedload(Course.patient),
            joinedload(Course.prescriber),
            joinedload(Course.authorization),
        )
        .where(Course.id == course_id)
    )
    if course is None:
        raise NotFound(f"No course {course_id}.")
    return course


def read_course(course_id: int, *, actor_id: int | None) -> CourseSummary:
    """A course and its numbers, recording that the actor read the patient's record."""
    course = get_course(course_id)
    record(actor_id, AuditAction.VIEW, "patient", course.patient_id, detail={"course": course.id})
    return course_summary(course)


def read_patient_courses(patient_id: int, *, actor_id: int | None) -> list[CourseSummary]:
    if db.session.get(Patient, patient_id) is None:
        raise NotFound(f"No patient {patient_id}.")
    record(actor_id, AuditAction.VIEW, "patient", patient_id, detail={"courses": True})
    return course_summaries(patient_courses(patient_id))


def course_appointments(course_id: int, *, limit: int) -> Sequence[Appointment]:
    """The course's appointments in time order, with their chairs (for the calendar)."""
    return db.session.scalars(
        select(Appointment)
        .options(joinedload(Appointment.device))
        .where(Appointment.course_id == course_id)
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(limit)
    ).all()


def patient_courses(patient_id: int, *, limit: int = 50) -> Sequence[Course]:
    """A patient's courses, newest first (a patient has a handful; bounded anyway)."""
    return db.session.scalars(
        select(Course)
        .options(joinedload(Course.protocol), joinedload(Course.authorization))
        .where(Course.patient_id == patient_id)
        .order_by(Course.created_at.desc(), Course.id.desc())
        .limit(limit)
    ).all()


def update_course(course: Course, changes: dict[str, Any], *, actor_id: int | None) -> Course:
    """Change planned sessions, prescribed %MT (with its reason), target or notes."""
    allowed = {"planned_sessions", "prescribed_pct_mt", "pct_mt_reason", "target", "notes"}
    errors: dict[str, list[str]] = {name: ["Unknown field."] for name in set(changes) - allowed}
    if course.status in FINAL_STATUSES:
        raise Conflict(
            f"The course is {course.status}; reopen it before changing it.", code="course_closed"
        )
    values: dict[str, Any] = {}
    if "planned_sessions" in changes:
        delivered = course_progress([course.id])[course.id].delivered
        _check_planned(changes["planned_sessions"], errors, minimum=delivered)
        values["planned_sessions"] = changes["planned_sessions"]
    reason = course.pct_mt_reason
    if "pct_mt_reason" in changes:
        reason = _text(changes["pct_mt_reason"], "pct_mt_reason", 2000, errors)
        values["pct_mt_reason"] = reason
    if "prescribed_pct_mt" in changes or "pct_mt_reason" in changes:
        pct_mt = changes.get("prescribed_pct_mt", course.prescribed_pct_mt)
        _check_intensity(pct_mt, reason, course.protocol, errors)
        values["prescribed_pct_mt"] = pct_mt
    for name, limit in (("target", 120), ("notes", 5000)):
        if name in changes:
            values[name] = _text(changes[name], name, limit, errors)
    if errors:
        raise Invalid("The change has invalid fields.", fields=errors)
    altered = sorted(name for name, value in values.items() if getattr(course, name) != value)
    for name in altered:
        setattr(course, name, values[name])
    db.session.flush()
    if altered:
        record(
            actor_id,
            AuditAction.UPDATE,
            "course",
            course.id,
            patient_id=course.patient_id,
            detail={"fields": altered},
        )
    return course


# --- Status ----------------------------------------------------------------------------


def allowed_statuses(course: Course, *, is_admin: bool) -> list[str]:
    """Where the course may go from here. Completed and discontinued are final; only an
    admin reopens one (to active), to correct a mistake."""
    if course.status in FINAL_STATUSES:
        return ["active"] if is_admin else []
    return [status for status in CourseStatus if status != course.status]


def set_course_status(
    course: Course,
    status: str,
    reason: str | None = None,
    *,
    actor_id: int | None,
    is_admin: bool | None = None,
) -> Course:
    """Move a course to `status`, with a reason for on hold and discontinued.

    Ending a course (completed, discontinued) cancels its future scheduled sessions;
    putting it on hold keeps them (the course page flags them). The same status again
    changes nothing. Sends `course_status_changed` in the transaction.
    `is_admin` defaults to the actor's role; pass True from system jobs.
    """
    if status not in tuple(CourseStatus):
        raise Invalid("Unknown status.", fields={"status": [f"One of {', '.join(CourseStatus)}."]})
    reason_text = (reason or "").strip() or None
    if reason_text is not None and len(reason_text) > 2000:
        raise Invalid("The reason is too long.", fields={"reason": ["At most 2000 characters."]})
    if status in REASON_REQUIRED and reason_text is None:
        raise Invalid(
            f"Say why the course is {status.replace('_', ' ')}.",
            fields={"reason": ["Required for on hold and discontinued."]},
        )
    if status == course.status:
        return course
    if is_admin is None:
        actor = db.session.get(User, actor_id) if actor_id is not None else None
        is_admin = actor is not None and actor.role == "admin"
    if status not in allowed_statuses(course, is_admin=is_admin):
        raise Conflict(
            f"The course is {course.status}: only an admin can reopen it (to active).",
            code="course_closed",
        )
    if course.status in FINAL_STATUSES and reason_text is None:
        raise Invalid(
            "Say why the course is reopened.", fields={"reason": ["Required to reopen a course."]}
        )
    old_status = course.status
    now = clock.now()
    course.status = status
    course.status_reason = reason_text
    course.status_changed_at = now
    cancelled: Sequence[Appointment] = []
    if status in FINAL_STATUSES:
        cancelled = lifecycle.cancel_future_sessions(
            course, now=now, reason=reason_text or f"Course {status}.", actor_id=actor_id
        )
    db.session.flush()
    record(
        actor_id,
        AuditAction.STATUS_CHANGE,
        "course",
        course.id,
        patient_id=course.patient_id,
        detail={
            "from": old_status,
            "to": status,
            "reason": reason_text,
            "cancelled_appointments": [a.id for a in cancelled],
        },
    )
    events.course_status_changed.send(None, course=course, old_status=old_status, actor_id=actor_id)
    return course


# --- Numbers ---------------------------------------------------------------------------


@dataclass
class AuthorizationSummary:
    payer: str
    number: str | None
    sessions_authorized: int
    valid_from: date | None
    valid_to: date | None
    sessions_used: int
    sessions_booked: int
    sessions_remaining: int
    last_booked_date: date | None
    warnings: list[str] = field(default_factory=list)

    @property
    def warning(self) -> str | None:
        return " ".join(self.warnings) or None

    @property
    def over_booked(self) -> bool:
        return self.sessions_used + self.sessions_booked > self.sessions_authorized

    @property
    def runs_past_end(self) -> bool:
        return bool(
            self.valid_to and self.last_booked_date and self.last_booked_date > self.valid_to
        )


@dataclass
class CourseSummary:
    """A course's numbers. Every treatment appointment is exactly one of delivered,
    scheduled (booked, not yet resolved), missed (no-show, incomplete) or cancelled."""

    course: Course
    delivered_sessions: int
    scheduled_sessions: int
    missed_sessions: int
    cancelled_sessions: int
    remaining_sessions: int
    unbooked_sessions: int
    projected_end_date: date | None
    projected_end_estimated: bool
    authorization: AuthorizationSummary | None

    @property
    def id(self) -> int:
        return self.course.id

    def as_dict(self) -> dict[str, Any]:
        course = self.course
        return {
            "id": course.id,
            "patient_id": course.patient_id,
            "protocol": course.protocol.code,
            "protocol_name": course.protocol.name,
            "status": course.status,
            "status_reason": course.status_reason,
            "status_changed_at": course.status_changed_at,
            "planned_sessions": course.planned_sessions,
            "prescribed_pct_mt": course.prescribed_pct_mt,
            "pct_mt_reason": course.pct_mt_reason,
            "target": course.target,
            "notes": course.notes,
            "prescriber_id": course.prescriber_id,
            "authorization_id": course.authorization_id,
            "created_at": course.created_at,
            "delivered_sessions": self.delivered_sessions,
            "scheduled_sessions": self.scheduled_sessions,
            "missed_sessions": self.missed_sessions,
            "cancelled_sessions": self.cancelled_sessions,
            "remaining_sessions": self.remaining_sessions,
            "unbooked_sessions": self.unbooked_sessions,
            "projected_end_date": self.projected_end_date,
            "projected_end_estimated": self.projected_end_estimated,
            "authorization": None
            if self.authorization is None
            else {
                "payer": self.authorization.payer,
                "number": self.authorization.number,
                "sessions_authorized": self.authorization.sessions_authorized,
                "valid_from": self.authorization.valid_from,
                "valid_to": self.authorization.valid_to,
                "sessions_used": self.authorization.sessions_used,
                "sessions_remaining": self.authorization.sessions_remaining,
                "sessions_booked": self.authorization.sessions_booked,
                "warning": self.authorization.warning,
            },
        }


def _authorization_usage(
    authorization_ids: list[int],
) -> dict[int, tuple[int, int, date | None]]:
    """(delivered, booked, last booked local date) per authorization, over every course
    it covers: a continuation course may draw on the same authorization."""
    if not authorization_ids:
        return {}
    usage: dict[int, list[Any]] = {auth_id: [0, 0, None] for auth_id in authorization_ids}
    rows = db.session.execute(
        select(
            Course.authorization_id,
            Appointment.status,
            func.count(),
            func.max(Appointment.starts_at),
        )
        .join(Course, Course.id == Appointment.course_id)
        .where(
            Course.authorization_id.in_(authorization_ids),
            Appointment.kind == SESSION_KIND,
            Appointment.status.in_(("completed", *PENDING_STATUSES)),
        )
        .group_by(Course.authorization_id, Appointment.status)
    )
    tz = clock.clinic_tz()
    for auth_id, status, count, last in rows:
        entry = usage[auth_id]
        if status == "completed":
            entry[0] += count
        else:
            entry[1] += count
            last_date = last.astimezone(tz).date()
            entry[2] = max(entry[2], last_date) if entry[2] else last_date
    return {key: (value[0], value[1], value[2]) for key, value in usage.items()}


def _authorization_summary(
    authorization: Authorization, usage: tuple[int, int, date | None]
) -> AuthorizationSummary:
    used, booked, last_booked = usage
    summary = AuthorizationSummary(
        payer=authorization.payer,
        number=authorization.number,
        sessions_authorized=authorization.sessions_authorized,
        valid_from=authorization.valid_from,
        valid_to=authorization.valid_to,
        sessions_used=used,
        sessions_booked=booked,
        sessions_remaining=max(authorization.sessions_authorized - used, 0),
        last_booked_date=last_booked,
    )
    if summary.over_booked:
        summary.warnings.append(
            f"{used + booked} sessions delivered or booked, {summary.sessions_authorized} "
            "authorized."
        )
    if summary.runs_past_end:
        summary.warnings.append(
            f"Sessions are booked after the authorization ends on {summary.valid_to:%Y-%m-%d}."
        )
    if not summary.warnings and summary.sessions_remaining < LOW_AUTHORIZATION_SESSIONS:
        summary.warnings.append(f"Only {summary.sessions_remaining} authorized sessions left.")
    return summary


def course_summaries(courses: Sequence[Course]) -> list[CourseSummary]:
    """Numbers for several courses in a fixed number of queries (for lists and the chart)."""
    progress = course_progress(course.id for course in courses)
    ends = projected_ends(courses, progress)
    usage = _authorization_usage(
        sorted({c.authorization_id for c in courses if c.authorization_id is not None})
    )
    summaries = []
    for course in courses:
        done = progress[course.id]
        summaries.append(
            CourseSummary(
                course=course,
                delivered_sessions=done.delivered,
                scheduled_sessions=done.scheduled,
                missed_sessions=done.missed,
                cancelled_sessions=done.cancelled,
                remaining_sessions=done.remaining(course.planned_sessions),
                unbooked_sessions=done.unbooked(course.planned_sessions),
                projected_end_date=ends[course.id].end,
                projected_end_estimated=ends[course.id].estimated,
                authorization=_authorization_summary(
                    course.authorization, usage[course.authorization_id]
                )
                if course.authorization is not None and course.authorization_id is not None
                else None,
            )
        )
    return summaries


def course_summary(course: Course) -> CourseSummary:
    return course_summaries([course])[0]


# --- Authorization alerts --------------------------------------------------------------


def _alert_reasons(summary: CourseSummary, today: date | None) -> list[tuple[str, str]]:
    """(reason, message) pairs. `today` is given by the daily job only: the slow-moving
    warnings (few sessions left, authorization lapsed) need no check at every booking."""
    authorization = summary.authorization
    assert authorization is not None
    reasons = []
    if authorization.over_booked:
        reasons.append(
            (
                "exceeded",
                f"{authorization.sessions_used + authorization.sessions_booked} sessions "
                f"delivered or booked; {authorization.sessions_authorized} authorized by "
                f"{authorization.payer}.",
            )
        )
    if authorization.runs_past_end and authorization.valid_to:
        reasons.append(
            (
                "expires",
                f"Sessions are booked until {authorization.last_booked_date:%Y-%m-%d}; the "
                f"authorization ends on {authorization.valid_to:%Y-%m-%d}.",
            )
        )
    if today is None or reasons:
        return reasons
    if authorization.valid_to and authorization.valid_to < today and summary.remaining_sessions:
        reasons.append(
            (
                "expired",
                f"The authorization ended on {authorization.valid_to:%Y-%m-%d} with "
                f"{summary.remaining_sessions} sessions of the course still to deliver.",
            )
        )
    elif authorization.sessions_remaining < LOW_AUTHORIZATION_SESSIONS:
        reasons.append(
            ("low", f"Only {authorization.sessions_remaining} authorized sessions remain.")
        )
    return reasons


def _raise_authorization_alerts(
    summary: CourseSummary, *, today: date | None, actor_id: int | None
) -> list[Alert]:
    if summary.authorization is None:
        return []
    course = summary.course
    return [
        raise_alert(
            AUTHORIZATION_ALERT_KIND,
            f"Authorization {reason} for course {course.id}",
            message=message,
            severity="warning",
            audience="front_desk",
            patient_id=course.patient_id,
            course_id=course.id,
            subject=("course", course.id),
            dedupe_key=f"course:{course.id}:{reason}",
            data={"reason": reason},
            actor_id=actor_id,
        )
        for reason, message in _alert_reasons(summary, today)
    ]


def check_authorization(course: Course, actor_id: int | None = None) -> list[Alert]:
    """Warn the front desk when booked and delivered sessions exceed the authorization,
    or a booked session falls after its end. Returns the open alerts (new or existing)."""
    if course.authorization_id is None:
        return []
    return _raise_authorization_alerts(course_summary(course), today=None, actor_id=actor_id)


def check_authorizations(now: datetime, *, batch_size: int = 500) -> int:
    """The daily job over every active course with an authorization: the booking-time
    checks, plus fewer than three authorized sessions left, or the authorization lapsed
    with sessions still to deliver. Returns how many alerts it opened."""
    today = now.astimezone(clock.clinic_tz()).date()
    already_open = set(
        db.session.scalars(
            select(Alert.dedupe_key).where(
                Alert.kind == AUTHORIZATION_ALERT_KIND, Alert.status == "open"
            )
        ).all()
    )
    opened = 0
    last_id = 0
    while True:
        courses = db.session.scalars(
            select(Course)
            .options(joinedload(Course.protocol), joinedload(Course.authorization))
            .where(
                Course.status == "active",
                Course.authorization_id.is_not(None),
                Course.id > last_id,
            )
            .order_by(Course.id)
            .limit(batch_size)
        ).all()
        if not courses:
            return opened
        last_id = courses[-1].id
        for summary in course_summaries(courses):
            for alert in _raise_authorization_alerts(summary, today=today, actor_id=None):
                if alert.dedupe_key not in already_open:
                    already_open.add(alert.dedupe_key)
                    opened += 1

"""Prescribing a course for a screened patient, and changing the prescription.

Input errors answer 422 with every field at once; the latest safety screening then
decides whether TMS may be prescribed at all (409).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.courses.models import (
    CONTINUING_KINDS,
    FINAL_STATUSES,
    Course,
    CourseKind,
    CourseStatus,
    Protocol,
)
from clinic.courses.protocols import MAX_PCT_MT, MAX_PLANNED_SESSIONS
from clinic.courses.titration import clean_titration, titration_errors
from clinic.errors import Conflict, Invalid
from clinic.extensions import db
from clinic.patients.models import (
    Authorization,
    AuthorizationStatus,
    Patient,
    Screening,
    ScreeningResult,
)
from clinic.patients.records import add_authorization, clean_authorization
from clinic.patients.validation import FieldErrors, text
from clinic.permissions import Permission, role_can
from clinic.scheduling.patterns import parse_pattern
from clinic.scheduling.progress import course_progress


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
    if screening.result == ScreeningResult.CONTRAINDICATED:
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


def _check_titration(
    titration: Any, pct_mt: Any, planned: Any, errors: dict[str, list[str]]
) -> None:
    found = titration_errors(titration, prescribed_pct_mt=pct_mt, planned_sessions=planned)
    if found:
        errors.setdefault("titration", []).extend(found)


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


def _check_kind(
    kind: Any, previous_course_id: Any, patient_id: int | None, errors: dict[str, list[str]]
) -> int | None:
    """The kind is one of CourseKind; an extension or a retreatment names the patient's
    earlier course it continues (CONTRACT 7), any other kind may."""
    if kind not in tuple(CourseKind):
        errors.setdefault("kind", []).append(f"One of {', '.join(CourseKind)}.")
        return None
    if previous_course_id is None:
        if kind in CONTINUING_KINDS:
            errors.setdefault("previous_course_id", []).append(
                f"Required for {'an' if kind == CourseKind.EXTENSION else 'a'} {kind}: "
                "the course it continues."
            )
        return None
    previous = db.session.get(Course, previous_course_id) if _is_whole(previous_course_id) else None
    if previous is None or (patient_id is not None and previous.patient_id != patient_id):
        errors.setdefault("previous_course_id", []).append("Not a course of this patient.")
        return None
    return previous.id


def _check_pattern(
    pattern: Any, planned: Any, errors: dict[str, list[str]]
) -> tuple[dict[str, Any] | None, Any]:
    """The course's own pattern and the planned count it implies: the pattern sets
    `planned_sessions` when only it is given, and must agree with it when both are."""
    if pattern is None:
        return None, planned
    shape, problems = parse_pattern(pattern)
    if shape is None:
        errors.setdefault("pattern", []).extend(problems)
        return None, planned
    if planned is not None and planned != shape.total:
        errors.setdefault("planned_sessions", []).append(
            f"The pattern holds {shape.total} sessions, not {planned}."
        )
    return dict(pattern), shape.total


def prescribe_course(
    patient_id: int,
    protocol_code: str,
    *,
    kind: str = CourseKind.ACUTE,
    previous_course_id: int | None = None,
    pattern: dict[str, Any] | None = None,
    planned_sessions: int | None = None,
    prescribed_pct_mt: int | None = None,
    pct_mt_reason: str | None = None,
    target: str | None = None,
    notes: str | None = None,
    prescriber_id: int | None = None,
    authorization: dict[str, Any] | None = None,
    authorization_id: int | None = None,
    titration: list[dict[str, Any]] | None = None,
    actor_id: int | None,
) -> Course:
    """Prescribe a course of a protocol for a screened patient: an acute course, or an
    extension, retreatment or maintenance one, by its protocol's pattern or its own,
    optionally with a dose titration up to the prescribed %MT (`clinic.courses.titration`).

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
    previous_id = _check_kind(kind, previous_course_id, patient.id if patient else None, errors)
    own_pattern, planned = _check_pattern(pattern, planned_sessions, errors)
    if planned is None:
        planned = protocol.default_sessions if protocol else 1
    _check_planned(planned, errors)
    reason = _text(pct_mt_reason, "pct_mt_reason", 2000, errors)
    target_text = _text(target, "target", 120, errors)
    notes_text = _text(notes, "notes", 5000, errors)
    prescriber = _prescriber(prescriber_id, actor_id, errors)
    pct_mt = prescribed_pct_mt
    if protocol is not None:
        pct_mt = pct_mt if pct_mt is not None else protocol.intensity_pct_mt
        _check_intensity(pct_mt, reason, protocol, errors)
        if "prescribed_pct_mt" not in errors and "planned_sessions" not in errors:
            _check_titration(titration, pct_mt, planned, errors)
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
        # Given with the prescription, it is the payer's answer: approved unless it says.
        attached = add_authorization(
            patient,
            new_authorization,
            actor_id=actor_id,
            default_status=AuthorizationStatus.APPROVED,
        )
    course = Course(
        patient_id=patient.id,
        protocol_id=protocol.id,
        status=CourseStatus.ACTIVE,
        status_changed_at=clock.now(),
        kind=kind,
        previous_course_id=previous_id,
        pattern=own_pattern,
        planned_sessions=planned,
        prescribed_pct_mt=pct_mt,
        pct_mt_reason=reason,
        target=target_text or protocol.target,
        notes=notes_text,
        prescriber_id=prescriber,
        authorization_id=attached.id if attached else None,
        titration=clean_titration(titration),
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
        detail={
            "protocol": protocol.code,
            "planned_sessions": planned,
            "pct_mt": pct_mt,
            "kind": kind,
            "pattern": own_pattern,
        },
    )
    return course


def update_course(course: Course, changes: dict[str, Any], *, actor_id: int | None) -> Course:
    """Change planned sessions, prescribed %MT (with its reason), titration, target or notes.
    A titration must still end at the prescribed %MT after the change."""
    allowed = {
        "planned_sessions",
        "prescribed_pct_mt",
        "pct_mt_reason",
        "titration",
        "target",
        "notes",
    }
    errors: dict[str, list[str]] = {name: ["Unknown field."] for name in set(changes) - allowed}
    if course.status in FINAL_STATUSES:
        raise Conflict(
            f"The course is {course.status}; reopen it before changing it.", code="course_closed"
        )
    values: dict[str, Any] = {}
    if "planned_sessions" in changes:
        delivered = course_progress([course.id])[course.id].delivered
        _check_planned(changes["planned_sessions"], errors, minimum=delivered)
        _check_pattern(course.pattern, changes["planned_sessions"], errors)
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
    titration = changes.get("titration", course.titration)
    if titration and not errors:
        _check_titration(
            titration,
            values.get("prescribed_pct_mt", course.prescribed_pct_mt),
            values.get("planned_sessions", course.planned_sessions),
            errors,
        )
    if "titration" in changes:
        values["titration"] = clean_titration(titration)
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

"""Motor thresholds: the measurements, whether a session has a usable one (age,
re-checks asked for by a medication change), and the daily check that warns technicians
before a session needs a new one.

The dose a session delivers is its %MT of the threshold in effect, in % machine output.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.alerts.models import Alert, AlertKind, AlertSeverity, AlertStatus
from clinic.alerts.services import raise_alert
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.models import Course, CourseStatus
from clinic.courses.numbers import get_course
from clinic.errors import Invalid
from clinic.extensions import db
from clinic.permissions import Role
from clinic.scheduling.models import Appointment
from clinic.scheduling.progress import PENDING_STATUSES
from clinic.treatments.models import MotorThreshold, MotorThresholdRecheck, ThresholdMethod

# A measurement "now" may come from a clock a little ahead of the server's.
CLOCK_TOLERANCE = timedelta(minutes=5)
DUE_MESSAGES = {
    "first_session": "No motor threshold on this course yet: measure it at the first session.",
    "expired": "The last motor threshold is more than {days} days before this session.",
    "medication_change": "A medication change was recorded since the last motor threshold.",
}


# Courses that may still deliver sessions: a medication change asks each for a new MT.
RUNNING_STATUSES = (CourseStatus.ACTIVE, CourseStatus.ON_HOLD)


def _local_date(instant: datetime) -> date:
    return clock.to_local(instant).date()


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


def list_motor_thresholds(course_id: int, *, actor_id: int | None) -> Sequence[MotorThreshold]:
    """Newest first (a course has a few dozen at most), recording that the actor read the
    patient's record."""
    course = get_course(course_id)
    record(
        actor_id, AuditAction.VIEW, "patient", course.patient_id, detail={"course_id": course_id}
    )
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
        select(Course).where(Course.patient_id == patient_id, Course.status.in_(RUNNING_STATUSES))
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


def check_motor_threshold_due(now: datetime) -> int:
    """Open a `motor_threshold_due` alert (for technicians, one per course) for every active
    course whose next appointment will need a new MT. Returns how many alerts it opened."""
    upcoming = (
        select(Appointment.course_id, func.min(Appointment.starts_at).label("next_start"))
        .where(Appointment.status.in_(PENDING_STATUSES), Appointment.starts_at >= now)
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
        .where(Course.status == CourseStatus.ACTIVE, Appointment.status.in_(PENDING_STATUSES))
        .options(joinedload(Appointment.patient))
    ).all()
    next_by_course = {a.course_id: a for a in appointments}
    thresholds = thresholds_by_course(next_by_course)
    rechecks = rechecks_by_course(next_by_course)
    max_age = mt_max_age_days()
    already_open = set(
        db.session.scalars(
            select(Alert.dedupe_key).where(
                Alert.kind == AlertKind.MOTOR_THRESHOLD_DUE, Alert.status == AlertStatus.OPEN
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
            AlertKind.MOTOR_THRESHOLD_DUE,
            f"Motor threshold due: {appointment.patient.full_name}, "
            f"{clock.to_local(appointment.starts_at):%a %d %b %H:%M}",
            message=status.message(max_age),
            severity=AlertSeverity.WARNING,
            audience=Role.TECHNICIAN,
            patient_id=appointment.patient_id,
            course_id=course_id,
            subject=("appointment", appointment.id),
            dedupe_key=key,
            data={"reason": status.due_reason, "appointment_id": appointment.id},
        )
        opened += 1
    return opened

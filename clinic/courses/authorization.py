"""A course's insurance authorization: its meter (used, booked, left) and the front
desk's alerts when bookings overdraw it or run past its end.

Only an approved authorization counts: one still in draft, requested, denied, appealed
or expired authorizes nothing, so its meter shows nothing used or left and a warning.

Usage is counted from the appointments themselves, never stored, over every course the
authorization covers (a continuation course may draw on the same one). The booking-time
check holds the authorization's row first: two bookings drawing on it at once then count
each other's sessions in turn, instead of each seeing only its own and neither warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.alerts.models import Alert, AlertKind, AlertSeverity, AlertStatus
from clinic.alerts.services import raise_alert
from clinic.courses.models import Course, CourseStatus
from clinic.extensions import db
from clinic.patients.models import Authorization, AuthorizationStatus
from clinic.permissions import Role
from clinic.scheduling.models import Appointment, AppointmentStatus
from clinic.scheduling.progress import PENDING_STATUSES, SESSION_KIND, course_progress

LOW_AUTHORIZATION_SESSIONS = 3


@dataclass
class AuthorizationSummary:
    """The meter: delivered (`sessions_used`) and booked sessions against those authorized."""

    id: int
    status: str
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
    def approved(self) -> bool:
        return self.status == AuthorizationStatus.APPROVED

    @property
    def over_booked(self) -> bool:
        return self.approved and (
            self.sessions_used + self.sessions_booked > self.sessions_authorized
        )

    @property
    def runs_past_end(self) -> bool:
        return bool(
            self.approved
            and self.valid_to
            and self.last_booked_date
            and self.last_booked_date > self.valid_to
        )


def _usage(authorization_ids: list[int]) -> dict[int, tuple[int, int, date | None]]:
    """(delivered, booked, last booked local date) per authorization, over every course
    it covers."""
    if not authorization_ids:
        return {}
    usage: dict[int | None, list[Any]] = {auth_id: [0, 0, None] for auth_id in authorization_ids}
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
            Appointment.status.in_((AppointmentStatus.COMPLETED, *PENDING_STATUSES)),
        )
        .group_by(Course.authorization_id, Appointment.status)
    )
    tz = clock.clinic_tz()
    for auth_id, status, count, last in rows:
        entry = usage[auth_id]
        if status == AppointmentStatus.COMPLETED:
            entry[0] += count
        else:
            entry[1] += count
            last_date = last.astimezone(tz).date()
            entry[2] = max(entry[2], last_date) if entry[2] else last_date
    return {key: (value[0], value[1], value[2]) for key, value in usage.items() if key is not None}


def _meter(
    authorization: Authorization, usage: tuple[int, int, date | None]
) -> AuthorizationSummary:
    """The meter, with the warnings the course page shows under it."""
    used, booked, last_booked = usage if authorization.approved else (0, 0, None)
    summary = AuthorizationSummary(
        id=authorization.id,
        status=authorization.status,
        payer=authorization.payer,
        number=authorization.number,
        sessions_authorized=authorization.sessions_authorized,
        valid_from=authorization.valid_from,
        valid_to=authorization.valid_to,
        sessions_used=used,
        sessions_booked=booked,
        sessions_remaining=max(authorization.sessions_authorized - used, 0)
        if authorization.approved
        else 0,
        last_booked_date=last_booked,
    )
    if not summary.approved:
        summary.warnings.append(
            f"The authorization is {authorization.status}: no session counts on it until it "
            "is approved."
        )
        return summary
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


def authorization_meters(courses: Sequence[Course]) -> dict[int, AuthorizationSummary]:
    """The meter of each course's authorization, by course id (courses without one are
    left out), with one usage query whatever the number of courses."""
    usage = _usage(
        sorted(
            {
                course.authorization_id
                for course in courses
                if course.authorization_id
                and course.authorization
                and course.authorization.approved
            }
        )
    )
    return {
        course.id: _meter(course.authorization, usage.get(course.authorization_id, (0, 0, None)))
        for course in courses
        if course.authorization is not None and course.authorization_id is not None
    }


# --- Alerts ------------------------------------------------------------------------------


def _alert_reasons(
    meter: AuthorizationSummary, *, today: date | None = None, remaining_sessions: int = 0
) -> list[tuple[str, str]]:
    """(reason, message) pairs. `today` and the course's `remaining_sessions` come from
    the daily job only: the slow-moving warnings (few sessions left, authorization lapsed)
    need no check at every booking."""
    reasons: list[tuple[str, str]] = []
    if not meter.approved:
        return reasons
    if meter.over_booked:
        reasons.append(
            (
                "exceeded",
                f"{meter.sessions_used + meter.sessions_booked} sessions delivered or booked; "
                f"{meter.sessions_authorized} authorized by {meter.payer}.",
            )
        )
    if meter.runs_past_end and meter.valid_to:
        reasons.append(
            (
                "expires",
                f"Sessions are booked until {meter.last_booked_date:%Y-%m-%d}; the "
                f"authorization ends on {meter.valid_to:%Y-%m-%d}.",
            )
        )
    if today is None or reasons:
        return reasons
    if meter.valid_to and meter.valid_to < today and remaining_sessions:
        reasons.append(
            (
                "expired",
                f"The authorization ended on {meter.valid_to:%Y-%m-%d} with "
                f"{remaining_sessions} sessions of the course still to deliver.",
            )
        )
    elif meter.sessions_remaining < LOW_AUTHORIZATION_SESSIONS:
        reasons.append(("low", f"Only {meter.sessions_remaining} authorized sessions remain."))
    return reasons


def _raise_alerts(
    course: Course, reasons: list[tuple[str, str]], actor_id: int | None
) -> list[Alert]:
    return [
        raise_alert(
            AlertKind.AUTHORIZATION,
            f"Authorization {reason} for course {course.id}",
            message=message,
            severity=AlertSeverity.WARNING,
            audience=Role.FRONT_DESK,
            patient_id=course.patient_id,
            course_id=course.id,
            subject=("course", course.id),
            dedupe_key=f"course:{course.id}:{reason}",
            data={"reason": reason},
            actor_id=actor_id,
        )
        for reason, message in reasons
    ]


def _hold(authorization_id: int) -> None:
    """Lock the authorization's row until commit, so bookings drawing on it count in turn
    (a no-op on SQLite, whose writing transactions already run one at a time)."""
    db.session.execute(
        select(Authorization.id).where(Authorization.id == authorization_id).with_for_update()
    )


def check_authorization(course: Course, actor_id: int | None = None) -> list[Alert]:
    """Warn the front desk when booked and delivered sessions exceed the authorization,
    or a booked session falls after its end. Returns the open alerts (new or existing)."""
    if course.authorization_id is None:
        return []
    _hold(course.authorization_id)
    meter = authorization_meters([course]).get(course.id)
    return _raise_alerts(course, _alert_reasons(meter), actor_id) if meter else []


def check_authorizations(now: datetime, *, batch_size: int = 500) -> int:
    """The daily job over every active course with an authorization: the booking-time
    checks, plus fewer than three authorized sessions left, or the authorization lapsed
    with sessions still to deliver. Returns how many alerts it opened."""
    today = now.astimezone(clock.clinic_tz()).date()
    already_open = set(
        db.session.scalars(
            select(Alert.dedupe_key).where(
                Alert.kind == AlertKind.AUTHORIZATION, Alert.status == AlertStatus.OPEN
            )
        ).all()
    )
    opened = 0
    last_id = 0
    while True:
        courses = db.session.scalars(
            select(Course)
            .options(joinedload(Course.authorization))
            .where(
                Course.status == CourseStatus.ACTIVE,
                Course.authorization_id.is_not(None),
                Course.id > last_id,
            )
            .order_by(Course.id)
            .limit(batch_size)
        ).all()
        if not courses:
            return opened
        last_id = courses[-1].id
        meters = authorization_meters(courses)
        progress = course_progress(course.id for course in courses)
        for course in courses:
            reasons = _alert_reasons(
                meters[course.id],
                today=today,
                remaining_sessions=progress[course.id].remaining(course.planned_sessions),
            )
            for alert in _raise_alerts(course, reasons, actor_id=None):
                if alert.dedupe_key not in already_open:
                    already_open.add(alert.dedupe_key)
                    opened += 1

"""The supervising physician on duty: Medicare asks that a physician be available during
every session, so each treatment log names who supervised it.

Anyone who may prescribe (a clinician, or an admin who is one) can supervise. The API
defaults to the course's prescriber; the log form proposes the physician chosen last
today (the one on duty), else the prescriber.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from clinic import clock
from clinic.auth.models import User
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.permissions import Permission, Role, role_can
from clinic.treatments.models import TreatmentLog

MAX_CHOICES = 200
MAX_ID = 2**31 - 1


def _can_supervise(user: User) -> bool:
    return user.active and role_can(user.role, Permission.PRESCRIBE)


def resolve_supervisor(supervisor_id: Any, course: Course) -> int:
    """The supervisor's id: the one given, else the course's prescriber. ValueError (its
    message for the form) when that is not an active clinician."""
    if supervisor_id is None:
        prescriber = db.session.get(User, course.prescriber_id) if course.prescriber_id else None
        if prescriber is None or not _can_supervise(prescriber):
            raise ValueError("Name the supervising physician: the course has no active prescriber.")
        return prescriber.id
    valid_id = (
        isinstance(supervisor_id, int)
        and not isinstance(supervisor_id, bool)
        and 0 < supervisor_id <= MAX_ID
    )
    chosen = db.session.get(User, supervisor_id) if valid_id else None
    if chosen is None or not _can_supervise(chosen):
        raise ValueError("The supervising physician must be an active clinician.")
    return chosen.id


def supervisors() -> list[User]:
    """Who the log form offers: active clinicians first, then admins, by name."""
    users = db.session.scalars(
        select(User)
        .where(User.active.is_(True), User.role.in_((Role.CLINICIAN, Role.ADMIN)))
        .order_by(User.name, User.id)
        .limit(MAX_CHOICES)
    ).all()
    return sorted(users, key=lambda user: user.role != Role.CLINICIAN)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=clock.clinic_tz())


def proposed_supervisor(course: Course) -> int | None:
    """The log form's default: the physician named on today's latest log (on duty now),
    else the course's prescriber."""
    today = clock.today()
    latest = db.session.scalar(
        select(TreatmentLog.supervisor_id)
        .where(
            TreatmentLog.supervisor_id.is_not(None),
            TreatmentLog.logged_at >= _day_start(today),
            TreatmentLog.logged_at < _day_start(today + timedelta(days=1)),
        )
        .order_by(TreatmentLog.logged_at.desc(), TreatmentLog.id.desc())
        .limit(1)
    )
    return latest if latest is not None else course.prescriber_id

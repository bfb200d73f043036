"""The front desk's authorization worklist: what waits on a payer, what expires soon,
and which courses are running out of authorized sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.courses.authorization import (
    LOW_AUTHORIZATION_SESSIONS,
    AuthorizationSummary,
    authorization_meters,
)
from clinic.courses.models import Course, CourseStatus
from clinic.extensions import db
from clinic.patients.models import Authorization, AuthorizationStatus

EXPIRING_WITHIN = timedelta(days=14)
WAITING = (AuthorizationStatus.DRAFT, AuthorizationStatus.REQUESTED, AuthorizationStatus.APPEALED)
LIMIT = 200


@dataclass
class Worklist:
    waiting: Sequence[Authorization]
    expiring: Sequence[Authorization]
    running_out: list[tuple[Course, AuthorizationSummary]]


def authorization_worklist() -> Worklist:
    today = clock.today()
    with_patient = joinedload(Authorization.patient)
    waiting = db.session.scalars(
        select(Authorization)
        .options(with_patient)
        .where(Authorization.status.in_(WAITING))
        .order_by(Authorization.created_at)
        .limit(LIMIT)
    ).all()
    expiring = db.session.scalars(
        select(Authorization)
        .options(with_patient)
        .where(
            Authorization.status == AuthorizationStatus.APPROVED,
            Authorization.valid_to.is_not(None),
            Authorization.valid_to >= today,
            Authorization.valid_to <= today + EXPIRING_WITHIN,
        )
        .order_by(Authorization.valid_to)
        .limit(LIMIT)
    ).all()
    courses = db.session.scalars(
        select(Course)
        .options(joinedload(Course.authorization), joinedload(Course.patient))
        .join(Authorization, Authorization.id == Course.authorization_id)
        .where(
            Course.status == CourseStatus.ACTIVE,
            Authorization.status == AuthorizationStatus.APPROVED,
        )
        .order_by(Course.id)
        .limit(LIMIT * 5)
    ).all()
    meters = authorization_meters(courses)
    running_out = [
        (course, meters[course.id])
        for course in courses
        if meters[course.id].sessions_remaining < LOW_AUTHORIZATION_SESSIONS
        or meters[course.id].over_booked
    ]
    return Worklist(waiting=waiting, expiring=expiring, running_out=running_out[:LIMIT])

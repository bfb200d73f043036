"""The front desk's authorization worklist: what waits on a payer, what expires soon,
and which courses are running out of authorized sessions.

Sites: a course belongs to every site on whose chairs one of its appointments is booked
(any status), an authorization to the sites of the courses it covers. One with nothing
booked yet (no course, or a course without appointments) belongs to no site: every site's
worklist shows it, since patients are not per site and any site's desk may chase it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, or_, select
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
from clinic.scheduling.models import Appointment
from clinic.scheduling.sites import held_at

EXPIRING_WITHIN = timedelta(days=14)
WAITING = (AuthorizationStatus.DRAFT, AuthorizationStatus.REQUESTED, AuthorizationStatus.APPEALED)
LIMIT = 200


@dataclass
class Worklist:
    waiting: Sequence[Authorization]
    expiring: Sequence[Authorization]
    running_out: list[tuple[Course, AuthorizationSummary]]


def _booked_there_or_nowhere(appointments: Select[Any], site_ids: Collection[int]) -> Any:
    """SQL: some of these appointments are on a chair of the sites, or there are none."""
    return or_(
        appointments.where(held_at(site_ids)).exists(),
        ~appointments.exists(),
    )


def _course_at(site_ids: Collection[int]) -> Any:
    return _booked_there_or_nowhere(
        select(Appointment.id).where(Appointment.course_id == Course.id), site_ids
    )


def _authorization_at(site_ids: Collection[int]) -> Any:
    return _booked_there_or_nowhere(
        select(Appointment.id)
        .join(Course, Course.id == Appointment.course_id)
        .where(Course.authorization_id == Authorization.id),
        site_ids,
    )


def authorization_worklist(site_ids: Collection[int] | None = None) -> Worklist:
    """The worklist of some sites (`sites.visible_sites`), or of every site (None)."""
    today = clock.today()
    with_patient = joinedload(Authorization.patient)
    mine = [] if site_ids is None else [_authorization_at(site_ids)]
    waiting = db.session.scalars(
        select(Authorization)
        .options(with_patient)
        .where(Authorization.status.in_(WAITING), *mine)
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
            *mine,
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
            *([] if site_ids is None else [_course_at(site_ids)]),
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

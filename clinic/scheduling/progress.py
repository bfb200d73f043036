"""How far along a course is: the one query every feature asks (the course's numbers,
the questionnaire cadence, course outcomes, the clinic report, booking).

Only treatment appointments are sessions of a course; a mapping visit is not one, so it
never counts as delivered. The projected end asks the booking planner itself, so the
estimate lands where booking the rest would put the last session.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Select, bindparam, func, select

from clinic import clock
from clinic.extensions import db
from clinic.scheduling import booking
from clinic.scheduling.calendar import load_calendar
from clinic.scheduling.models import (
    ACTIVE_COURSE,
    LIVE_STATUSES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Device,
)
from clinic.scheduling.patterns import course_phases

if TYPE_CHECKING:
    from clinic.courses.models import Course

SESSION_KIND = AppointmentKind.TREATMENT
PENDING_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CHECKED_IN)
"""Booked and not yet delivered."""
MISSED_STATUSES = (AppointmentStatus.NO_SHOW, AppointmentStatus.INCOMPLETE)
PROJECTION_CHAIR = 0
"""The projection ignores other patients: one always-free chair stands for them all."""


@dataclass
class Progress:
    """One course's treatment sessions by status, and when the delivered ones ran."""

    by_status: Counter[str] = field(default_factory=Counter)
    first_delivered_at: datetime | None = None
    last_delivered_at: datetime | None = None
    last_live_at: datetime | None = None
    """The latest session that is booked or has happened (not cancelled or missed)."""
    first_logged_at: datetime | None = None
    """When the first delivered session's log was written (its `delivered_at`): what was
    answered before it, even after the session's scheduled start, precedes the treatment."""

    @property
    def delivered(self) -> int:
        return self.by_status[AppointmentStatus.COMPLETED]

    @property
    def scheduled(self) -> int:
        return sum(self.by_status[status] for status in PENDING_STATUSES)

    @property
    def missed(self) -> int:
        return sum(self.by_status[status] for status in MISSED_STATUSES)

    @property
    def cancelled(self) -> int:
        return self.by_status[AppointmentStatus.CANCELLED]

    def remaining(self, planned: int) -> int:
        """Sessions still to deliver."""
        return max(planned - self.delivered, 0)

    def unbooked(self, planned: int) -> int:
        """Sessions still to book: neither delivered nor booked."""
        return max(planned - self.delivered - self.scheduled, 0)

    def last_delivered_day(self) -> date | None:
        return clock.to_local(self.last_delivered_at).date() if self.last_delivered_at else None


@cache
def _progress_query() -> Select[int, str, int, datetime, datetime, datetime]:
    """Built once: every booking and course page asks it."""
    return (
        select(
            Appointment.course_id,
            Appointment.status,
            func.count(),
            func.min(Appointment.starts_at),
            func.max(Appointment.starts_at),
            func.min(func.coalesce(Appointment.delivered_at, Appointment.ends_at)),
        )
        .where(
            Appointment.course_id.in_(bindparam("ids", expanding=True)),
            Appointment.kind == SESSION_KIND,
        )
        .group_by(Appointment.course_id, Appointment.status)
    )


def course_progress(course_ids: Iterable[int]) -> dict[int, Progress]:
    """Progress of each course, in one grouped query whatever their number."""
    ids = sorted(set(course_ids))
    found = {course_id: Progress() for course_id in ids}
    if not ids:
        return found
    rows = db.session.execute(_progress_query(), {"ids": ids})
    for course_id, status, count, first, last, logged in rows:
        progress = found[course_id]
        progress.by_status[status] = count
        if status == AppointmentStatus.COMPLETED:
            progress.first_delivered_at, progress.last_delivered_at = first, last
            progress.first_logged_at = logged
        if status in LIVE_STATUSES and (
            progress.last_live_at is None or last > progress.last_live_at
        ):
            progress.last_live_at = last
    return found


def _delivered_sessions() -> Select[int, int]:
    """(course, site) of every delivered session."""
    return (
        select(Appointment.course_id, Device.site_id)
        .join(Device, Device.id == Appointment.device_id)
        .where(Appointment.kind == SESSION_KIND, Appointment.status == AppointmentStatus.COMPLETED)
    )


def delivered_sites(course_ids: Collection[int]) -> dict[int, set[int]]:
    """The sites at whose devices each course had a session delivered."""
    sites: dict[int, set[int]] = {course_id: set() for course_id in course_ids}
    delivered = _delivered_sessions().subquery()
    for course_id, site_id in db.session.execute(
        select(delivered.c.course_id, delivered.c.site_id)
        .where(delivered.c.course_id.in_(sorted(course_ids)))
        .distinct()
    ):
        sites[course_id].add(site_id)
    return sites


def delivered_session_ends(course_id: int) -> list[datetime]:
    """When each delivered session of a course ended, in order: an answer given at `t`
    came after `bisect_right(ends, t)` sessions (the outcome chart's x axis)."""
    return list(
        db.session.scalars(
            select(Appointment.ends_at)
            .where(
                Appointment.course_id == course_id,
                Appointment.kind == SESSION_KIND,
                Appointment.status == AppointmentStatus.COMPLETED,
            )
            .order_by(Appointment.ends_at)
        )
    )


@dataclass(frozen=True)
class Projection:
    end: date | None
    estimated: bool
    """True when sessions are still unbooked and `end` is the planner's estimate."""


def projected_ends(
    courses: Sequence[Course], progress: dict[int, Progress]
) -> dict[int, Projection]:
    """When each course ends: its last booked session, or, for an active course with
    sessions still to book, where the booking planner would put the last of them on an
    empty clinic (its hours and closures; from today when nothing is booked, else from
    the day after the last booked session or today, whichever is later)."""
    today = clock.today()
    tz = clock.clinic_tz()
    ends: dict[int, Projection] = {}
    to_plan: list[tuple[Course, date, int]] = []
    for course in courses:
        done = progress[course.id]
        last_day = done.last_live_at.astimezone(tz).date() if done.last_live_at else None
        unbooked = done.unbooked(course.planned_sessions)
        if course.status == ACTIVE_COURSE and unbooked:
            start = max(last_day, today) + timedelta(days=1) if last_day else today
            to_plan.append((course, start, unbooked))
        else:
            ends[course.id] = Projection(last_day, False)
    if to_plan:
        first = min(start for _course, start, _unbooked in to_plan)
        last = max(start for _course, start, _unbooked in to_plan)
        calendar = dataclasses.replace(
            load_calendar(first, last + timedelta(days=booking.HORIZON_DAYS)),
            devices={PROJECTION_CHAIR: "any chair"},
            maintenance={},
        )
        for course, start, unbooked in to_plan:
            ends[course.id] = Projection(_plan_end(calendar, course, start, unbooked), True)
    return ends


def _plan_end(
    calendar: booking.Calendar, course: Course, start: date, unbooked: int
) -> date | None:
    """The day the planner puts the last of `unbooked` sessions, from `start` at opening."""
    protocol = course.protocol
    opening = min((opens for opens, _closes in calendar.hours.values()), default=time(9))
    request = booking.Request(
        patient=booking.Patient(
            id=course.patient_id, tz=calendar.tz, one_a_day=protocol.pattern != "accelerated"
        ),
        phases=course_phases(course, unbooked, start),
        start=start,
        local_time=opening,
        length=timedelta(minutes=protocol.slot_minutes),
    )
    nobody = booking.Occupancy(lambda _spans, _patient: [], calendar.tz)
    plan = booking.plan_sessions(calendar, nobody, request)
    if not plan.sessions:
        return None
    return plan.sessions[-1].starts_at.astimezone(calendar.tz).date()


def session_numbers(appointments: Sequence[Appointment]) -> dict[int, int]:
    """Each appointment's number among its course's delivered sessions, counting itself
    (the sessions delivered before it start, plus one): the dose titration steps by it.
    One query whatever the number of appointments."""
    course_ids = sorted({a.course_id for a in appointments})
    if not course_ids:
        return {}
    delivered: dict[int, list[datetime]] = {course_id: [] for course_id in course_ids}
    rows = db.session.execute(
        select(Appointment.course_id, Appointment.starts_at).where(
            Appointment.course_id.in_(course_ids),
            Appointment.kind == SESSION_KIND,
            Appointment.status == AppointmentStatus.COMPLETED,
        )
    )
    for course_id, starts_at in rows:
        delivered[course_id].append(starts_at)
    return {
        a.id: 1 + sum(1 for at in delivered[a.course_id] if at < a.starts_at) for a in appointments
    }

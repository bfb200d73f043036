"""Making up a session that was not delivered (cancelled, missed, stopped early) so the
course still delivers its planned count (DOMAIN.md, CONTRACT 7).

- A miss in the daily phase is made up inside it: the make-up goes on the first open
  weekday after the phase's last session, and the taper or weekly sessions that would
  now fall in or before that week move later, week by week, each week keeping its spread
  (a taper begun too early weakens the course). Every move goes through
  `booking_service.relocate`, so its reminders and calendar entries are replaced.
- A miss in the taper or weekly phase (or of a course all daily) is made up on the first
  open weekday after the course's last session.

Two make-ups of one course never plan at once: the course's row is locked first (SELECT
... FOR UPDATE on PostgreSQL; SQLite's writers are serialised by BEGIN IMMEDIATE), and
the course's sessions are read afresh after the lock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import groupby
from typing import TYPE_CHECKING

from sqlalchemy import select

from clinic import clock, events
from clinic.audit.models import AuditAction
from clinic.errors import Conflict
from clinic.extensions import db
from clinic.scheduling import booking
from clinic.scheduling.booking_service import (
    appointment_row,
    audit_appointment,
    course_site,
    insert_appointments,
    next_sequence,
    relocate,
)
from clinic.scheduling.calendar import (
    device_site,
    load_calendar,
    occupancy,
    patient_tz,
    planner_patient,
)
from clinic.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Site,
)
from clinic.scheduling.patterns import course_pattern
from clinic.scheduling.sites import get_site
from clinic.scheduling.technicians import off_duty, overlapping

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from clinic.courses.models import Course

COUNTING = (AppointmentStatus.SCHEDULED, AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED)
"""Sessions that are or will be delivered: the ones a pattern's phases are counted in."""


@dataclass(frozen=True)
class MakeUp:
    makeup: Appointment
    moved: tuple[Appointment, ...] = ()
    """Later sessions moved to keep the pattern (the daily phase grew)."""


def book_makeup(
    course: Course, actor_id: int | None, *, makeup_for: Appointment | None = None
) -> MakeUp:
    """Book the make-up of `makeup_for` (or of a session stopped early, when None) and
    move what the pattern needs moved. 409 `cannot_place` when a year holds no room."""
    db.session.refresh(course, with_for_update=True)
    sessions = _sessions(course.id, COUNTING)
    tz = patient_tz(course.patient)
    if makeup_for is not None and sessions:
        first = min(sessions[0].starts_at, makeup_for.starts_at)
        first_day = first.astimezone(tz).date()  # a weekly phase keeps the start's weekday
        shape = course_pattern(course, first_day)
        daily_total = shape.daily + max(0, course.planned_sessions - shape.total)
        before = sum(1 for s in sessions if s.starts_at < makeup_for.starts_at)
        later = sessions[max(daily_total - 1, 0) :]
        if (
            shape.groups
            and before < daily_total
            and later
            and all(s.status == AppointmentStatus.SCHEDULED for s in later)
        ):
            return _inside_daily_phase(
                course, makeup_for, sessions[: daily_total - 1], later, shape.weekly_days, actor_id
            )
    live = _sessions(course.id, LIVE_STATUSES)
    last = live[-1] if live else None
    reference = makeup_for or last
    after = last.starts_at if last is not None else (makeup_for.starts_at if makeup_for else None)
    start_day = (after.astimezone(tz).date() if after else clock.today(tz)) + timedelta(days=1)
    local_time = reference.starts_at.astimezone(tz).time() if reference else time(9)
    device_id = reference.device_id if reference else None
    places = _plan(course, booking.Phases(daily=1), start_day, local_time, device_id)
    return MakeUp(_insert_makeup(course, places[0], makeup_for, actor_id))


def _sessions(course_id: int, statuses: Sequence[str]) -> list[Appointment]:
    """The course's treatment sessions in these statuses, by start, read afresh."""
    return list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.course_id == course_id,
                Appointment.kind == AppointmentKind.TREATMENT,
                Appointment.status.in_(statuses),
            )
            .order_by(Appointment.starts_at)
            .execution_options(populate_existing=True)
        )
    )


def _site(course: Course, device_id: int | None) -> Site:
    """Where a make-up goes: the missed session's chair's site, else the course's."""
    return device_site(device_id) or course_site(course.id) or get_site()


def _plan(
    course: Course,
    phases: booking.Phases,
    start: date,
    local_time: time,
    device_id: int | None,
    *,
    moving: Collection[int] = (),
    placed: Sequence[booking.Busy] = (),
) -> list[booking.PlannedSession]:
    """Place sessions on the site's calendar, around everything busy but the sessions
    `moving`, and around the sessions just `placed`."""
    request = booking.Request(
        patient=planner_patient(course),
        phases=phases,
        start=start,
        local_time=local_time,
        length=timedelta(minutes=course.protocol.slot_minutes),
        device_id=device_id,
    )
    calendar = load_calendar(
        start, start + timedelta(days=request.horizon_days), _site(course, device_id)
    )
    busy = occupancy(calendar, ignore=moving)
    for session in placed:
        busy.add(session)
    plan = booking.plan_sessions(calendar, busy, request)
    if plan.missing or not plan.sessions:
        raise Conflict(
            "No free chair for a make-up session within a year.",
            code="cannot_place",
            details={"clashes": plan.clashes[:20]},
        )
    return plan.sessions


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _inside_daily_phase(
    course: Course,
    missed: Appointment,
    daily: list[Appointment],
    later: list[Appointment],
    weekly_days: tuple[int, ...] | None,
    actor_id: int | None,
) -> MakeUp:
    """The make-up right after the daily phase; the taper and weekly weeks that now come
    too early move later, each keeping its number of sessions and its spread."""
    tz = patient_tz(course.patient)
    last_daily = daily[-1].starts_at if daily else missed.starts_at
    start_day = last_daily.astimezone(tz).date() + timedelta(days=1)
    local_time = missed.starts_at.astimezone(tz).time()
    later_ids = [s.id for s in later]
    session = _plan(
        course,
        booking.Phases(daily=1),
        start_day,
        local_time,
        missed.device_id,
        moving=later_ids,
    )[0]
    weeks = [
        list(members)
        for _week, members in groupby(later, key=lambda s: _local_monday(s.starts_at, tz))
    ]
    needed = _local_monday(session.starts_at, tz) + timedelta(days=7)
    to_move: list[list[Appointment]] = []
    for members in weeks:
        if _local_monday(members[0].starts_at, tz) >= needed:
            break
        to_move.append(members)
        needed += timedelta(days=7)
    moved: list[Appointment] = []
    if to_move:
        flat = [s for members in to_move for s in members]
        places = _plan(
            course,
            booking.Phases(
                daily=0, weekly=tuple(len(members) for members in to_move), weekly_days=weekly_days
            ),
            _local_monday(session.starts_at, tz) + timedelta(days=7),
            flat[0].starts_at.astimezone(tz).time(),
            flat[0].device_id,
            moving=[s.id for s in flat],
            placed=[
                booking.Busy(
                    session.device_id, course.patient_id, session.starts_at, session.ends_at
                )
            ],
        )
        # Latest first: everything moves later, so each lands where nothing is left.
        for appointment, place in reversed(list(zip(flat, places, strict=True))):
            if (place.starts_at, place.device_id) == (appointment.starts_at, appointment.device_id):
                continue
            relocate(
                appointment,
                place.starts_at,
                place.device_id,
                technician_id=_technician_then(appointment, place),
                actor_id=actor_id,
            )
            moved.append(appointment)
    makeup = _insert_makeup(course, session, missed, actor_id)
    return MakeUp(makeup, tuple(sorted(moved, key=lambda a: a.starts_at)))


def _local_monday(instant: datetime, tz: ZoneInfo) -> date:
    return _monday(instant.astimezone(tz).date())


def _technician_then(appointment: Appointment, place: booking.PlannedSession) -> int | None:
    """A session moved by a make-up keeps its technician only if they are free and on
    duty then; otherwise it goes back to whoever receives the patient."""
    technician_id = appointment.technician_id
    if technician_id is None:
        return None
    if overlapping(technician_id, place.starts_at, place.ends_at, appointment.id) is not None:
        return None
    if off_duty(technician_id, place.starts_at, place.ends_at) is not None:
        return None
    return technician_id


def _insert_makeup(
    course: Course,
    session: booking.PlannedSession,
    makeup_for: Appointment | None,
    actor_id: int | None,
) -> Appointment:
    [appointment] = insert_appointments(
        [
            appointment_row(
                course,
                session.device_id,
                session.starts_at,
                session.ends_at,
                next_sequence(course.id),
                is_makeup=True,
                makeup_for_id=makeup_for.id if makeup_for else None,
            )
        ]
    )
    audit_appointment(
        actor_id, AuditAction.CREATE, appointment, detail={"makeup_for": appointment.makeup_for_id}
    )
    events.appointments_booked.send(None, appointments=[appointment], actor_id=actor_id)
    return appointment

"""Reading the schedule: appointments by day, chair, patient or course, where a session
could move, and the data of the day board and the week view (laid out by `board`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.extensions import db
from clinic.patients.models import Patient, PersonName
from clinic.scheduling import board, booking
from clinic.scheduling.calendar import (
    device_site,
    get_row,
    list_devices,
    load_calendar,
    occupancy,
    planner_patient,
)
from clinic.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Device,
    Site,
)
from clinic.scheduling.sites import get_site, held_at, site_tz


def get_appointment(appointment_id: int) -> Appointment:
    return get_row(Appointment, appointment_id, "appointment")


def day_span(first: date, last: date, tz: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """The instants from the start of `first` to the end of `last` on a clock (the
    clinic's by default; a site's for its board)."""
    tz = tz or clock.clinic_tz()
    return (
        datetime.combine(first, time(0), tzinfo=tz),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz),
    )


@cache
def session_number() -> Any:
    """A column: the session's place among its course's live treatments (1-based). Built
    once: a fresh alias per request cost more than the query."""
    appointments = Appointment.__table__
    earlier = appointments.alias("earlier")
    return (
        select(func.count(earlier.c.id) + 1)
        .where(
            earlier.c.course_id == appointments.c.course_id,
            earlier.c.kind == AppointmentKind.TREATMENT,
            # "Neither cancelled nor a no-show" rather than "in LIVE_STATUSES" (the same
            # rows): the exclusion constraints' partial indexes hold the latter predicate,
            # and PostgreSQL without statistics ANDed one (every live session) into each
            # row's count, reading thousands of index entries a row.
            earlier.c.status.not_in(
                [status for status in AppointmentStatus if status not in LIVE_STATUSES]
            ),
            earlier.c.starts_at < appointments.c.starts_at,
        )
        .correlate(appointments)
        .scalar_subquery()
        .label("number")
    )


@dataclass(slots=True)
class BoardPatient(PersonName):
    """What the board, the week and the calendar feed show of a patient."""

    id: int
    first_name: str
    last_name: str
    phone: str | None


@dataclass(slots=True)
class BoardSession:
    """A session as the board, the week and the calendar feed show it: plain columns
    (as ORM objects, with their patient and course, a week's rows cost more than the
    rest of its page; frozen, their construction cost half as much again)."""

    patient: BoardPatient
    id: int
    course_id: int
    patient_id: int
    device_id: int
    starts_at: datetime
    ends_at: datetime
    kind: str
    status: str
    is_makeup: bool
    planned_sessions: int
    """The course's length ("session n of N")."""


BOARD_LIMIT = 2000


@cache
def _board_query(by_technician: bool) -> Any:
    """The sessions of a site between two instants, with their session numbers; built
    once (building the statement cost as much as running it)."""
    appointments, patients = Appointment.__table__, Patient.__table__
    courses = Appointment.course.property.mapper.local_table  # courses sit above scheduling
    devices = Device.__table__
    instant = appointments.c.starts_at.type
    query = (
        select(
            appointments.c.id,
            appointments.c.course_id,
            appointments.c.patient_id,
            appointments.c.device_id,
            appointments.c.starts_at,
            appointments.c.ends_at,
            appointments.c.kind,
            appointments.c.status,
            appointments.c.is_makeup,
            courses.c.planned_sessions,
            patients.c.first_name,
            patients.c.last_name,
            patients.c.phone,
            session_number(),
        )
        .select_from(
            appointments.join(patients, patients.c.id == appointments.c.patient_id).join(
                courses, courses.c.id == appointments.c.course_id
            )
        )
        .where(
            appointments.c.device_id.in_(
                select(devices.c.id).where(devices.c.site_id == bindparam("site_id"))
            ),
            appointments.c.starts_at >= bindparam("start", type_=instant),
            appointments.c.starts_at < bindparam("end", type_=instant),
        )
        .order_by(appointments.c.starts_at, appointments.c.device_id)
        .limit(BOARD_LIMIT)
    )
    if by_technician:
        query = query.where(appointments.c.technician_id == bindparam("technician_id"))
    return query


def board_sessions(
    first: date, last: date, *, site: Site, technician_id: int | None = None
) -> list[tuple[BoardSession, int]]:
    """(session, its number) at a site from `first` to `last` on its clock, by start and
    chair (at most BOARD_LIMIT), one query whatever their number."""
    start, end = day_span(first, last, site_tz(site))
    params = {"site_id": site.id, "start": start, "end": end, "technician_id": technician_id}
    rows = db.session.connection().execute(_board_query(technician_id is not None), params)
    return [
        (
            BoardSession(BoardPatient(row.patient_id, *row[10:13]), *row[:10]),
            row.number,
        )
        for row in rows
    ]


def list_appointments(
    *,
    first: date | None = None,
    last: date | None = None,
    device_id: int | None = None,
    patient_id: int | None = None,
    course_id: int | None = None,
    technician_id: int | None = None,
    site_ids: set[int] | None = None,
    limit: int = 2000,
    actor_id: int | None = None,
    columns: Sequence[str],
) -> list[Row[Any]]:
    """Appointments' `columns` ordered by start, filtered; bounded by dates and `limit`;
    at some sites only when `site_ids` is given (the dates are then read on the first
    one's clock). Rows of the columns asked, not ORM objects: the API's day list is read
    only, and loading hundreds of tracked objects and every bookkeeping column cost more
    than its query.

    A patient's own schedule (`patient_id`) is patient data: its reading is audited as a
    `view` of that patient by `actor_id`.
    """
    params: dict[str, Any] = {"limit": limit}
    tz = None
    if site_ids is not None:
        params["site_ids"] = sorted(site_ids)
        tz = site_tz(get_site(min(site_ids))) if site_ids else None
    if first is not None and last is not None:
        params["start"], params["end"] = day_span(first, last, tz)
    filters = {
        "device_id": device_id,
        "patient_id": patient_id,
        "course_id": course_id,
        "technician_id": technician_id,
    }
    params.update((name, value) for name, value in filters.items() if value is not None)
    query = _listing(tuple(columns), tuple(params))
    rows = list(db.session.connection().execute(query, params))
    if patient_id is not None:
        record(actor_id, AuditAction.VIEW, "patient", patient_id, detail={"what": "schedule"})
    return rows


@cache
def _listing(columns: tuple[str, ...], given: tuple[str, ...]) -> Select[Any]:
    """`list_appointments`'s statement for the parameters `given`, built once a shape:
    building it and working out its cache key at every request cost a third of the
    query (a statement kept keeps its key)."""
    table = Appointment.__table__
    query = select(*(table.c[name] for name in columns)).order_by(
        Appointment.starts_at, Appointment.device_id
    )
    if "site_ids" in given:
        query = query.where(held_at(bindparam("site_ids", expanding=True)))
    if "start" in given:
        query = query.where(
            Appointment.starts_at >= bindparam("start"), Appointment.starts_at < bindparam("end")
        )
    for name in given:
        if name in table.c:  # a parameter named for a column filters on it
            query = query.where(table.c[name] == bindparam(name))
    return query.limit(bindparam("limit"))


UPCOMING_SHOWN = 10
UPCOMING_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CHECKED_IN)


def upcoming_appointments(patient_id: int, *, limit: int = UPCOMING_SHOWN) -> list[Appointment]:
    """A patient's next scheduled or checked-in sessions, at every site (patients are not
    per site), with their chairs and sites, for the chart (whose reading is audited)."""
    return list(
        db.session.scalars(
            select(Appointment)
            .options(joinedload(Appointment.device).joinedload(Device.site))
            .where(
                Appointment.patient_id == patient_id,
                Appointment.status.in_(UPCOMING_STATUSES),
                Appointment.ends_at > clock.now(),
            )
            .order_by(Appointment.starts_at)
            .limit(limit)
        )
    )


def free_starts(
    appointment_id: int, day: date, *, step_minutes: int = 15
) -> list[booking.Placement]:
    """Where a session could move on `day`: every free (start, chair), every 15 minutes."""
    appointment = get_appointment(appointment_id)
    calendar = load_calendar(day, day, device_site(appointment.device_id))
    window = calendar.open_interval(day)
    if window is None:
        return []
    busy = occupancy(calendar, ignore=(appointment.id,))
    busy.cover([(day, *window)])
    patient = planner_patient(appointment.course, appointment.kind)
    length = appointment.ends_at - appointment.starts_at
    found: list[booking.Placement] = []
    start = window[0]
    while start + length <= window[1]:
        end = start + length
        if not booking.time_clashes(calendar, busy, patient, start, end):
            found.extend(
                booking.Placement(device, start, end)
                for device in calendar.devices
                if not booking.device_clashes(calendar, busy, device, start, end)
            )
        start += timedelta(minutes=step_minutes)
    return found


def board_devices(
    rows: list[tuple[BoardSession, int]], site_id: int, devices: Sequence[Device] | None = None
) -> list[Device]:
    """The site's active devices (`devices`, when read already), plus any inactive one
    that still has sessions in view."""
    used = {appointment.device_id for appointment, _number in rows}
    if devices is None:
        devices = list_devices(site_ids={site_id})
    return [device for device in devices if device.active or device.id in used]


def _board_data(
    first: date, last: date, technician_id: int | None, site_id: int | None
) -> tuple[list[Device], list[tuple[BoardSession, int]], booking.Calendar]:
    """What the day board and the week view lay out: the chairs shown, the sessions with
    their numbers, and the site's calendar; the site's chairs are read once for both."""
    site = get_site(site_id)
    rows = board_sessions(first, last, site=site, technician_id=technician_id)
    devices = list_devices(site_ids={site.id})
    calendar = load_calendar(first, last, site, devices=devices)
    return board_devices(rows, site.id, devices), rows, calendar


def day_board(
    day: date, *, technician_id: int | None = None, site_id: int | None = None
) -> board.DayBoard:
    """A site's day board (the first site's by default): a fixed handful of queries
    whatever the size of the schedule."""
    return board.day_board(day, *_board_data(day, day, technician_id, site_id))


def week_view(
    monday: date, *, technician_id: int | None = None, site_id: int | None = None
) -> board.WeekView:
    return board.week_view(
        monday, *_board_data(monday, monday + timedelta(days=6), technician_id, site_id)
    )

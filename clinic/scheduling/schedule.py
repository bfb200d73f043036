"""Reading the schedule: appointments by day, chair, patient or course, where a session
could move, and the data of the day board and the week view (laid out by `board`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased, contains_eager, joinedload

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.extensions import db
from clinic.patients.models import Patient
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
)
from clinic.scheduling.sites import get_site, site_tz


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
    once: a fresh alias per request cost more than the query (SQLAlchemy memoizes an
    alias's columns on the alias)."""
    earlier = aliased(Appointment)
    return (
        select(func.count(earlier.id) + 1)
        .where(
            earlier.course_id == Appointment.course_id,
            earlier.kind == AppointmentKind.TREATMENT,
            # "Neither cancelled nor a no-show" rather than "in LIVE_STATUSES" (the same
            # rows): the exclusion constraints' partial indexes hold the latter predicate,
            # and PostgreSQL without statistics ANDed one (every live session) into each
            # row's count, reading thousands of index entries a row.
            earlier.status.not_in(
                [status for status in AppointmentStatus if status not in LIVE_STATUSES]
            ),
            earlier.starts_at < Appointment.starts_at,
        )
        .correlate(Appointment)
        .scalar_subquery()
        .label("number")
    )


def _course_column(name: str) -> Any:
    """A column of the course an appointment belongs to (courses sit above scheduling)."""
    return getattr(Appointment.course.property.mapper.class_, name)


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
    with_numbers: bool = False,
    actor_id: int | None = None,
) -> list[Any]:
    """Appointments ordered by start, filtered; bounded by dates and `limit`; at some
    sites only when `site_ids` is given (the dates are then read on the first one's clock).

    With `with_numbers` each row is (appointment, session number) with the patient and
    course loaded, for pages that show "session n of N" without a query per row. A
    patient's own schedule (`patient_id`) is patient data: its reading is audited as a
    `view` of that patient by `actor_id`.
    """
    columns: list[Any] = [Appointment]
    if with_numbers:
        columns.append(session_number())
    query = select(*columns).order_by(Appointment.starts_at, Appointment.device_id)
    if with_numbers:
        # Plain joins (every appointment has its patient, course and chair), not
        # `joinedload`: its aliased tables made the ORM adapt every column of every row.
        query = (
            query.join(Appointment.patient)
            .join(Appointment.course)
            .join(Appointment.device)
            .options(
                # What the board, the week and the feed show of a patient: the record has
                # dozens of columns, and loading them all for every row cost more than
                # the rest.
                contains_eager(Appointment.patient).load_only(
                    Patient.first_name, Patient.last_name, Patient.phone
                ),
                # Of the course its length ("session n of N"), of the chair its site (the
                # clock its times are read on).
                contains_eager(Appointment.course).load_only(_course_column("planned_sessions")),
                contains_eager(Appointment.device).load_only(Device.site_id),
            )
        )
    tz = None
    if site_ids is not None:
        query = query.where(
            Appointment.device_id.in_(select(Device.id).where(Device.site_id.in_(site_ids)))
        )
        tz = site_tz(get_site(min(site_ids))) if site_ids else None
    if first is not None and last is not None:
        start, end = day_span(first, last, tz)
        query = query.where(and_(Appointment.starts_at >= start, Appointment.starts_at < end))
    filters = {
        Appointment.device_id: device_id,
        Appointment.patient_id: patient_id,
        Appointment.course_id: course_id,
        Appointment.technician_id: technician_id,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    result = db.session.execute(query.limit(limit))
    rows = [tuple(row) for row in result] if with_numbers else list(result.scalars())
    if patient_id is not None:
        record(actor_id, AuditAction.VIEW, "patient", patient_id, detail={"what": "schedule"})
    return rows


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
    busy = occupancy(calendar.tz, ignore=(appointment.id,))
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
    rows: list[Any], site_id: int, devices: Sequence[Device] | None = None
) -> list[Device]:
    """The site's active devices (`devices`, when read already), plus any inactive one
    that still has sessions in view."""
    used = {appointment.device_id for appointment, _number in rows}
    if devices is None:
        devices = list_devices(site_ids={site_id})
    return [device for device in devices if device.active or device.id in used]


def _board_data(
    first: date, last: date, technician_id: int | None, site_id: int | None
) -> tuple[list[Device], list[Any], booking.Calendar]:
    """What the day board and the week view lay out: the chairs shown, the sessions with
    their numbers, and the site's calendar; the site's chairs are read once for both."""
    site = get_site(site_id)
    rows = list_appointments(
        first=first, last=last, technician_id=technician_id, site_ids={site.id}, with_numbers=True
    )
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

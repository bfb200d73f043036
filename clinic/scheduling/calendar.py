"""Each site's calendar: chairs, their maintenance, opening hours, closures and public
holidays, and loading them (with who is busy when) for the pure booking planner.

Plain functions with explicit arguments; they flush but never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache, partial
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BindParameter, Select, bindparam, func, select, text
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.scheduling import booking
from clinic.scheduling.models import (
    LIVE_STATUSES,
    LONGEST_APPOINTMENT,
    Appointment,
    AppointmentKind,
    Closure,
    ClosureSource,
    Device,
    MaintenanceWindow,
    OpeningHours,
    Site,
)
from clinic.scheduling.sites import get_site, public_holidays, site_tz

if TYPE_CHECKING:
    from clinic.courses.models import Course
    from clinic.patients.models import Patient

MAX_ID = 2**31 - 1
"""Ids beyond a 32-bit integer cannot exist; refusing them early avoids driver errors."""

Row = TypeVar("Row")


def get_row(model: type[Row], entity_id: int, label: str) -> Row:
    """The row by id, or 404 naming what was looked for."""
    found = db.session.get(model, entity_id) if 0 < entity_id <= MAX_ID else None
    if found is None:
        raise NotFound(f"No {label} {entity_id}.")
    return found


def locked_appointment(appointment_id: int) -> Appointment:
    """The appointment, locked until this transaction ends, and read afresh.

    Every change of an appointment starts here, so two of them (two cancels, a cancel
    and a move, from any number of app servers) queue up: the second reads what the
    first committed and is refused if that ended the appointment. PostgreSQL locks the
    row (SELECT ... FOR UPDATE); SQLite's writers are serialised by BEGIN IMMEDIATE.
    `populate_existing` replaces whatever the session held from before the lock."""
    if not 0 < appointment_id <= MAX_ID:
        raise NotFound(f"No appointment {appointment_id}.")
    appointment = db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .with_for_update(of=Appointment)
        .execution_options(populate_existing=True)
    )
    if appointment is None:
        raise NotFound(f"No appointment {appointment_id}.")
    return appointment


def clean_text(value: str | None, limit: int, label: str, *, required: bool = False) -> str | None:
    """Trimmed text within `limit`, None when empty; a 422 naming the field otherwise."""
    value = (value or "").strip()
    if required and not value:
        raise Invalid(f"{label} is required.", fields={label.lower(): ["Required."]})
    if len(value) > limit:
        raise Invalid(
            f"{label} is too long.", fields={label.lower(): [f"At most {limit} characters."]}
        )
    return value or None


# What every board and booking reads of a site's calendar: each statement built once
# (building one cost as much as running it).


@cache
def _maintenance_query() -> Select[int, datetime, datetime]:
    instant = MaintenanceWindow.__table__.c.starts_at.type
    window = MaintenanceWindow
    return select(window.device_id, window.starts_at, window.ends_at).where(
        window.ends_at > bindparam("start", type_=instant),
        window.starts_at < bindparam("end", type_=instant),
    )


@cache
def _hours_query() -> Select[OpeningHours]:
    return select(OpeningHours).where(OpeningHours.site_id == bindparam("site_id"))


@cache
def _closures_query() -> Select[Closure]:
    return select(Closure).where(
        Closure.site_id == bindparam("site_id"),
        Closure.date >= bindparam("first"),
        Closure.date <= bindparam("last"),
    )


# -- devices and maintenance -----------------------------------------------------------


def list_devices(
    *, active_only: bool = False, site_ids: set[int] | None = None
) -> Sequence[Device]:
    """Devices by name, of some sites only when `site_ids` is given."""
    query = select(Device).order_by(Device.name)
    if active_only:
        query = query.where(Device.active.is_(True))
    if site_ids is not None:
        query = query.where(Device.site_id.in_(site_ids))
    return db.session.scalars(query).all()


def get_device(device_id: int) -> Device:
    return get_row(Device, device_id, "device")


def _ensure_unique_name(name: str, device_id: int | None = None) -> None:
    # lower() on both sides, in the database: SQLite's lower() leaves non-ASCII letters as
    # they are, so comparing with Python's lower() missed "É" == "É" and the unique index
    # answered instead (a 500).
    query = select(Device.id).where(func.lower(Device.name) == func.lower(name))
    if device_id is not None:
        query = query.where(Device.id != device_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            f"A device named {name!r} already exists.",
            code="device_exists",
            fields={"name": ["Already in use."]},
        )


def create_device(
    *,
    name: str,
    model: str | None,
    room: str | None,
    actor_id: int,
    site_id: int | None = None,
) -> Device:
    """A new chair at a site (the first site when none is named)."""
    clean_name = clean_text(name, 80, "Name", required=True)
    assert clean_name is not None
    _ensure_unique_name(clean_name)
    device = Device(
        site_id=get_site(site_id).id,
        name=clean_name,
        model=clean_text(model, 120, "Model"),
        room=clean_text(room, 80, "Room"),
    )
    db.session.add(device)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "device", device.id, detail={"name": device.name})
    return device


def update_device(device_id: int, *, actor_id: int, **changes: Any) -> Device:
    """Rename, re-house or (de)activate a device. An inactive device takes no new bookings;
    its existing appointments stay where they are for the front desk to move."""
    device = get_device(device_id)
    if "name" in changes:
        name = clean_text(changes["name"], 80, "Name", required=True)
        assert name is not None
        _ensure_unique_name(name, device.id)
        device.name = name
    if "model" in changes:
        device.model = clean_text(changes["model"], 120, "Model")
    if "room" in changes:
        device.room = clean_text(changes["room"], 80, "Room")
    if "active" in changes:
        device.active = bool(changes["active"])
    if changes.get("site_id") is not None:
        device.site_id = get_site(changes["site_id"]).id
    db.session.flush()
    record(actor_id, AuditAction.UPDATE, "device", device.id, detail={"changed": sorted(changes)})
    return device


def list_maintenance(
    *, device_id: int | None = None, since: datetime | None = None
) -> Sequence[MaintenanceWindow]:
    query = (
        select(MaintenanceWindow)
        .options(joinedload(MaintenanceWindow.device))
        .order_by(MaintenanceWindow.starts_at)
    )
    if device_id is not None:
        query = query.where(MaintenanceWindow.device_id == device_id)
    if since is not None:
        query = query.where(MaintenanceWindow.ends_at > since)
    return db.session.scalars(query.limit(500)).all()


def add_maintenance(
    device_id: int,
    *,
    starts_at: datetime,
    ends_at: datetime,
    reason: str | None,
    actor_id: int,
) -> MaintenanceWindow:
    """Block a chair for a span; booking avoids it (existing appointments are kept)."""
    device = get_device(device_id)
    if ends_at <= starts_at:
        raise Invalid("Maintenance must end after it starts.", fields={"ends_at": ["Too early."]})
    window = MaintenanceWindow(
        device_id=device.id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=clean_text(reason, 200, "Reason"),
    )
    db.session.add(window)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "maintenance", window.id, detail={"device_id": device.id})
    return window


def delete_maintenance(device_id: int, window_id: int, *, actor_id: int) -> None:
    window = get_row(MaintenanceWindow, window_id, "maintenance window")
    if window.device_id != device_id:
        raise NotFound(f"No maintenance window {window_id} on device {device_id}.")
    db.session.delete(window)
    db.session.flush()
    record(actor_id, AuditAction.DELETE, "maintenance", window_id, detail={"device_id": device_id})


# -- opening hours and closures --------------------------------------------------------


def opening_hours(site_id: int | None = None) -> dict[int, OpeningHours]:
    """A site's hours by weekday (the first site's when none is named)."""
    site = get_site(site_id)
    rows = db.session.scalars(_hours_query(), {"site_id": site.id})
    return {row.weekday: row for row in rows}


def set_opening_hours(
    weekday: int,
    *,
    opens_at: time | None,
    closes_at: time | None,
    actor_id: int | None,
    site_id: int | None = None,
) -> OpeningHours | None:
    """Set a site's hours on a weekday, its wall clock; both None closes that weekday."""
    if not 0 <= weekday <= 6:
        raise Invalid("Weekday is 0 (Monday) to 6 (Sunday).", fields={"weekday": ["0 to 6."]})
    site = get_site(site_id)
    row = db.session.get(OpeningHours, (site.id, weekday))
    detail: dict[str, Any] = {"site_id": site.id, "weekday": weekday}
    if opens_at is None and closes_at is None:
        if row is not None:
            db.session.delete(row)
        db.session.flush()
        record(actor_id, AuditAction.DELETE, "opening_hours", weekday, detail=detail)
        return None
    if opens_at is None or closes_at is None or closes_at <= opens_at:
        raise Invalid(
            "Opening hours need an opening time before the closing time.",
            fields={"closes_at": ["Must be after the opening time."]},
        )
    if row is None:
        row = OpeningHours(site_id=site.id, weekday=weekday, opens_at=opens_at, closes_at=closes_at)
        db.session.add(row)
    row.opens_at, row.closes_at = opens_at, closes_at
    db.session.flush()
    detail |= {
        "opens_at": opens_at.isoformat("minutes"),
        "closes_at": closes_at.isoformat("minutes"),
    }
    record(actor_id, AuditAction.UPDATE, "opening_hours", weekday, detail=detail)
    return row


@dataclass(frozen=True)
class ClosedDay:
    """A day a site is closed: a manual closure (with its row's id) or a public holiday."""

    date: date
    reason: str
    source: ClosureSource
    site_id: int
    id: int | None = None


HOLIDAY_LIST_DAYS = 366
"""Without `to`, closures are listed up to a year after `from` (holidays never end)."""


def closed_days(site: Site, first: date, last: date) -> dict[date, ClosedDay]:
    """Every closed day of a site between two dates: manual closures, and public holidays
    the admin has not opened the site on."""
    params = {"site_id": site.id, "first": first, "last": last}
    rows = db.session.scalars(_closures_query(), params).all()
    opened = {row.date for row in rows if row.opens}
    found = {
        day: ClosedDay(day, name, ClosureSource.HOLIDAY, site.id)
        for day, name in public_holidays(site.holidays, first, last).items()
        if day not in opened
    }
    for row in rows:
        if not row.opens:
            found[row.date] = ClosedDay(row.date, row.reason, ClosureSource.MANUAL, site.id, row.id)
    return dict(sorted(found.items()))


def list_closures(
    *, since: date | None = None, until: date | None = None, site_id: int | None = None
) -> list[ClosedDay]:
    """A site's closed days between `since` (default: 30 days ago) and `until` (default:
    a year after `since`), holidays included."""
    site = get_site(site_id)
    first = since or clock.today(site_tz(site)) - timedelta(days=30)
    last = until or first + timedelta(days=HOLIDAY_LIST_DAYS)
    return list(closed_days(site, first, last).values())


def add_closure(
    *, day: date, reason: str | None, actor_id: int, site_id: int | None = None
) -> ClosedDay:
    """Close a site for a day. Appointments already on it stay, for the desk to move.
    409 `closure_exists` when the day is already closed (by an admin or a holiday)."""
    site = get_site(site_id)
    closed = closed_days(site, day, day).get(day)
    if closed is not None:
        raise Conflict(
            f"{site.name} is already closed on {day.isoformat()}"
            + (f" ({closed.reason})." if closed.reason else "."),
            code="closure_exists",
            fields={"date": ["Already a closure."]},
        )
    override = db.session.scalar(
        select(Closure).where(Closure.site_id == site.id, Closure.date == day)
    )
    if override is not None:  # an opened holiday, closed again
        db.session.delete(override)
        db.session.flush()
    closure = Closure(site_id=site.id, date=day, reason=clean_text(reason, 200, "Reason") or "")
    db.session.add(closure)
    db.session.flush()
    record(
        actor_id,
        AuditAction.CREATE,
        "closure",
        closure.id,
        detail={"date": day.isoformat(), "site_id": site.id},
    )
    return ClosedDay(day, closure.reason, ClosureSource.MANUAL, site.id, closure.id)


def open_day(*, day: date, actor_id: int, site_id: int | None = None) -> None:
    """Open a site on a closed day: remove a manual closure, or record that the site
    opens on this public holiday. 404 when the day is not closed."""
    site = get_site(site_id)
    closed = closed_days(site, day, day).get(day)
    if closed is None:
        raise NotFound(f"{site.name} is not closed on {day.isoformat()}.")
    if closed.id is not None:
        delete_closure(closed.id, actor_id=actor_id)
        return
    override = Closure(site_id=site.id, date=day, reason=closed.reason, opens=True)
    db.session.add(override)
    db.session.flush()
    record(
        actor_id,
        AuditAction.UPDATE,
        "closure",
        override.id,
        detail={"date": day.isoformat(), "site_id": site.id, "opened_holiday": closed.reason},
    )


def delete_closure(closure_id: int, *, actor_id: int) -> None:
    """Remove a manual closure, or an opened holiday's override (closing it again)."""
    closure = get_row(Closure, closure_id, "closure")
    db.session.delete(closure)
    db.session.flush()
    record(
        actor_id,
        AuditAction.DELETE,
        "closure",
        closure_id,
        detail={"date": closure.date.isoformat(), "site_id": closure.site_id},
    )


# -- loading what the planner needs ----------------------------------------------------


def load_calendar(
    start: date, end: date, site: Site | None = None, devices: Sequence[Device] | None = None
) -> booking.Calendar:
    """A site's hours, closures (holidays included) and maintenance between two of its
    dates, its active devices (those offered) and all its chairs (whose sessions are its
    busy time), of `devices` (the site's) when a page read them already; the first site
    when none is given."""
    site = site or get_site()
    tz = site_tz(site)
    span_start = datetime.combine(start - timedelta(days=1), time(0), tzinfo=tz)
    span_end = datetime.combine(end + timedelta(days=2), time(0), tzinfo=tz)
    maintenance: dict[int, list[tuple[datetime, datetime]]] = {}
    for device_id, starts_at, ends_at in db.session.execute(
        _maintenance_query(), {"start": span_start, "end": span_end}
    ):
        maintenance.setdefault(device_id, []).append((starts_at, ends_at))
    closures = {
        day: closed.reason
        for day, closed in closed_days(
            site, start - timedelta(days=1), end + timedelta(days=1)
        ).items()
    }
    chairs = (
        db.session.execute(
            select(Device.id, Device.name, Device.active)
            .where(Device.site_id == site.id)
            .order_by(Device.id)
        ).all()
        if devices is None
        else [(d.id, d.name, d.active) for d in sorted(devices, key=lambda d: d.id)]
    )
    return booking.Calendar(
        tz=tz,
        hours={
            row.weekday: (row.opens_at, row.closes_at) for row in opening_hours(site.id).values()
        },
        closures=closures,
        devices={device_id: name for device_id, name, active in chairs if active},
        maintenance=maintenance,
        chairs=tuple(device_id for device_id, _name, _active in chairs),
    )


@lru_cache(maxsize=256)
def _busy_query(
    spans: int, patient: bool, chairs: int | None
) -> Select[int, int, int, datetime, datetime, str]:
    """Live appointments overlapping any of `spans` spans (parameters `low`n, `end`n,
    `start`n), on `chairs` chairs only (parameters `chair`n) when not None, and with
    `patient`, the patient's overlapping one more span (at any chair: nobody is in two
    places).

    A course asks about fifty spans at once: their conditions are written as text with
    typed parameters, as building them as expressions took longer than the query, and
    the statement is built once for each shape, as building it still took longer than
    running it. Each span names the chairs itself, so each stays a range of the starts_at
    index (an OR nested under an AND is not one for SQLite); by their ids, as a subquery
    of the site's chairs in each span doubled the time PostgreSQL took."""
    table = Appointment.__table__
    utc = table.c.starts_at.type
    wanted: list[str] = []
    values: list[BindParameter[Any]] = []
    on_chairs = ""
    if chairs is not None:
        on_chairs = f" AND device_id IN ({', '.join(f':chair{n}' for n in range(chairs))})"
        values += [bindparam(f"chair{n}", type_=table.c.device_id.type) for n in range(chairs)]
    for n in range(spans + patient):
        # Sessions last minutes: the lower bound lets the starts_at index do the work.
        overlap = f"starts_at >= :low{n} AND starts_at < :end{n} AND ends_at > :start{n}"
        if n == spans:
            overlap += " AND patient_id = :patient"
            values.append(bindparam("patient", type_=table.c.patient_id.type))
        else:
            overlap += on_chairs
        wanted.append(f"({overlap})")
        values += [bindparam(f"{name}{n}", type_=utc) for name in ("low", "end", "start")]
    return select(
        table.c.id,
        table.c.device_id,
        table.c.patient_id,
        table.c.starts_at,
        table.c.ends_at,
        table.c.kind,
    ).where(table.c.status.in_(LIVE_STATUSES), text(f"({' OR '.join(wanted)})").bindparams(*values))


def _load_busy(
    spans: Sequence[booking.Span],
    patient: tuple[int, booking.Span] | None,
    *,
    chairs: Sequence[int] | None = None,
) -> list[booking.Busy]:
    """Live appointments overlapping any of `spans` (on `chairs` when given: a group's
    other sites' sessions are no chair's business, and 20 sites read 20 times the rows),
    and the patient's overlapping the patient's span when given, in one query; plain
    tuples through Core: ORM entities would cost more than the query."""
    if chairs is not None and not chairs:
        spans = []  # a site without chairs: nothing of theirs to read
    params: dict[str, Any] = {}
    for n, (start, end) in enumerate([*spans, *([patient[1]] if patient else [])]):
        params |= {f"low{n}": start - LONGEST_APPOINTMENT, f"end{n}": end, f"start{n}": start}
    if patient is not None:
        params["patient"] = patient[0]
    named = chairs if chairs is not None and spans else None
    if named is not None:
        params |= {f"chair{n}": chair for n, chair in enumerate(named)}
    query = _busy_query(len(spans), patient is not None, None if named is None else len(named))
    return [
        booking.Busy(
            device_id,
            patient,
            starts_at,
            ends_at,
            kind == AppointmentKind.TREATMENT,
            appointment_id,
        )
        # All rows at once: fetched one by one, psycopg's per-row checks cost more than
        # the rows.
        for appointment_id, device_id, patient, starts_at, ends_at, kind in (
            db.session.connection().execute(query, params).all()
        )
    ]


def occupancy(calendar: booking.Calendar, *, ignore: Collection[int] = ()) -> booking.Occupancy:
    """Who is busy when, by day on the calendar's clock (its site's): its chairs (the
    planner places only there) and the patient's own appointments anywhere."""
    load = partial(_load_busy, chairs=calendar.chairs)
    return booking.Occupancy(load, calendar.tz, ignore=ignore)


def device_site(device_id: int | None) -> Site | None:
    """The site of a chair (404 for an unknown one), None when no chair is named."""
    if device_id is None:
        return None
    return get_site(get_device(device_id).site_id)


def patient_tz(patient: Patient) -> ZoneInfo:
    """The patient's own time zone, or the clinic's when none (or an unknown one) is set."""
    name = patient.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return clock.clinic_tz()


def planner_patient(course: Course, kind: str = AppointmentKind.TREATMENT) -> booking.Patient:
    """The patient's side of a booking: one treatment a day, except in accelerated
    courses; a mapping visit is not a treatment, so it may share the day."""
    return booking.Patient(
        id=course.patient_id,
        tz=patient_tz(course.patient),
        one_a_day=kind == AppointmentKind.TREATMENT and course.protocol.pattern != "accelerated",
    )

"""Demo step: chairs, courses and their appointments.

Small by default: a handful of active courses booked through the real booking service
around today. Large (`--patients/--years`): years of realistic history written with bulk
inserts. Each course of the history owns a "lane" (one chair at one hour of the day)
until its last session, which is how a busy clinic runs and guarantees that the history
never double-books a chair or a patient (the PostgreSQL exclusion constraints check it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import click
from sqlalchemy import func, insert, select, update

from clinic import clock
from clinic.courses.models import Course, CourseStatus, Protocol
from clinic.demo.context import DemoContext
from clinic.extensions import db
from clinic.patients.models import Patient, PreferredChannel
from clinic.scheduling import booking, booking_service, calendar, patterns, sites
from clinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Device,
    Site,
)
from clinic.scheduling.sites import get_site

CHAIR_MODELS = ("MagVenture MagPro R30", "Neuronetics NeuroStar", "BrainsWay Deep TMS")
HISTORY_PROTOCOLS = ("10hz-ldlpfc", "itbs-ldlpfc", "deep-tms-h1", "1hz-rdlpfc", "10hz-m1-pain")
FIRST_LANE_HOUR = 8
LANES_PER_CHAIR = 10  # 08:00 to 17:00: every preset except accelerated fits in an hour
FUTURE_DAYS = 60
BATCH = 5000
NO_SHOW_RATE = 0.03
SECOND_COURSE_RATE = 0.2
# (time zone, public holidays, city) of the sites a `--sites N` group adds.
GROUP_SITES = (
    ("America/Chicago", "US-IL", "Chicago"),
    ("America/Denver", "US-CO", "Denver"),
    ("America/Los_Angeles", "US-CA", "San Diego"),
    ("America/Phoenix", "US-AZ", "Phoenix"),
    ("America/New_York", "US-MA", "Boston"),
)


def load_scheduling(ctx: DemoContext) -> None:
    devices = _chairs(ctx)
    patient_ids = _patient_ids(ctx)
    if ctx.large:
        count = _history(ctx, devices, patient_ids)
        ctx.lines.append(f"Scheduling: {len(devices)} chairs, {count} appointments of history.")
    else:
        count = _small(ctx, patient_ids)
        ctx.lines.append(f"Scheduling: {len(devices)} chairs, {count} courses booked.")


def _sites(ctx: DemoContext) -> list[Site]:
    """The first site, and with `--sites N` N-1 more across the US time zones, each with
    the first site's hours and its state's public holidays."""
    first = get_site()
    hours = calendar.opening_hours(first.id)
    made = list(sites.list_sites())
    for n in range(len(made) + 1, ctx.sites + 1):
        zone, code, city = GROUP_SITES[(n - 2) % len(GROUP_SITES)]
        site = sites.create_site(
            name=f"{city} {n}" if n > len(GROUP_SITES) + 1 else city,
            timezone=zone,
            holidays=code,
            actor_id=None,
        )
        for weekday, row in hours.items():
            calendar.set_opening_hours(
                weekday,
                opens_at=row.opens_at,
                closes_at=row.closes_at,
                site_id=site.id,
                actor_id=None,
            )
        made.append(site)
    return made[: ctx.sites]


def _chairs(ctx: DemoContext) -> list[int]:
    """`ctx.devices` chairs at each site (the first site's named as a single clinic's)."""
    chosen: list[int] = []
    for index, site in enumerate(_sites(ctx)):
        prefix = "Chair" if index == 0 else f"{site.name} chair"
        existing = (
            db.session.scalar(
                select(func.count()).select_from(Device).where(Device.site_id == site.id)
            )
            or 0
        )
        rows = [
            {
                "site_id": site.id,
                "name": f"{prefix} {n}",
                "model": CHAIR_MODELS[n % len(CHAIR_MODELS)],
                "room": f"Room {1 + (n - 1) // 2}",
                "active": True,
            }
            for n in range(existing + 1, ctx.devices + 1)
        ]
        if rows:
            db.session.execute(insert(Device), rows)
        chosen += db.session.scalars(
            select(Device.id)
            .where(Device.site_id == site.id)
            .order_by(Device.id)
            .limit(ctx.devices)
        )
    return chosen


def _patient_ids(ctx: DemoContext) -> list[int]:
    """The patients an earlier step made; when run without one, minimal stand-ins."""
    ids = list(db.session.scalars(select(Patient.id).order_by(Patient.id).limit(ctx.patients)))
    missing = ctx.patients - len(ids)
    if missing > 0:
        first = ("Alex", "Sam", "Jo", "Kim", "Lee", "Max", "Ria", "Tao", "Uma", "Vic")
        last = ("Moreno", "Okafor", "Lindqvist", "Nakamura", "Haddad", "Kowalski", "Brennan")
        start = len(ids)
        rows = [
            {
                "mrn": f"D{start + n:07d}",
                "first_name": ctx.rng.choice(first),
                "last_name": ctx.rng.choice(last),
                "date_of_birth": date(1950, 1, 1) + timedelta(days=ctx.rng.randrange(20000)),
                "preferred_channel": PreferredChannel.NONE,
                "sms_consent": False,
                "email_consent": False,
                "created_at": clock.now(),
                "updated_at": clock.now(),
            }
            for n in range(missing)
        ]
        for chunk in _chunks(rows):
            db.session.execute(insert(Patient), chunk)
        ids = list(db.session.scalars(select(Patient.id).order_by(Patient.id).limit(ctx.patients)))
    return ids


def _protocols() -> dict[str, Protocol]:
    return {p.code: p for p in db.session.scalars(select(Protocol))}


def _small(ctx: DemoContext, patient_ids: list[int]) -> int:
    """A few active courses, booked by the real service from last Monday, 09:00 onwards;
    in a group, spread over the sites (a patient treated at a site in another zone lives
    there: its wall clock is theirs)."""
    protocols = _protocols()
    group = sites.list_sites()[: ctx.sites]
    today = clock.today()
    start = today - timedelta(days=today.weekday() + 7)
    actor = ctx.users.get("front_desk")
    codes = ("10hz-ldlpfc", "itbs-ldlpfc", "10hz-m1-pain", "deep-tms-h1", "accelerated-itbs")
    booked = 0
    for index, patient_id in enumerate(patient_ids[: len(codes)]):
        protocol = protocols[codes[index]]
        course = Course(
            patient_id=patient_id,
            protocol_id=protocol.id,
            planned_sessions=protocol.default_sessions,
            prescribed_pct_mt=protocol.intensity_pct_mt,
            prescriber_id=ctx.users["clinician"].id if "clinician" in ctx.users else None,
            status=CourseStatus.ACTIVE,
            created_at=clock.now() - timedelta(days=14),
            consent_waiver_reason="Demo data: the TMS consent was signed on paper.",
        )
        db.session.add(course)
        site = group[index % len(group)]
        if site.id != group[0].id:
            patient = db.session.get(Patient, patient_id)
            assert patient is not None
            patient.timezone = site.timezone
        db.session.flush()
        booking_service.schedule_course(
            course,
            start_date=start,
            local_time=time(9 + index),
            site_id=site.id,
            actor_id=actor.id if actor else None,
        )
        booked += 1
    db.session.execute(
        update(Appointment)
        .where(Appointment.ends_at < clock.now(), Appointment.status == AppointmentStatus.SCHEDULED)
        .values(status=AppointmentStatus.COMPLETED)
    )
    return booked


def _history(ctx: DemoContext, devices: list[int], patient_ids: list[int]) -> int:
    """Years of courses: each patient's course takes the next free lane after its wish date."""
    protocols = [p for code, p in _protocols().items() if code in HISTORY_PROTOCOLS]
    tz = clock.clinic_tz()
    today = clock.today()
    first_day = today - timedelta(days=365 * ctx.years)
    last_start = today + timedelta(days=FUTURE_DAYS // 2)
    calendar = booking.Calendar(
        tz=tz,
        hours={day: (time(8), time(18)) for day in range(5)},
        closures={},
        devices=dict.fromkeys(devices, ""),
    )
    lanes = [(device, hour) for hour in range(LANES_PER_CHAIR) for device in devices]
    free_from = dict.fromkeys(lanes, first_day)
    wishes = sorted(
        (first_day + timedelta(days=ctx.rng.randrange((last_start - first_day).days)), pid)
        for pid in patient_ids
    )
    now = clock.now()
    written = 0
    pending: list[dict[str, Any]] = []
    with click.progressbar(wishes, label="Scheduling history", file=None) as bar:
        for wish, patient_id in bar:
            patient_free = wish
            for _ in range(2 if ctx.rng.random() < SECOND_COURSE_RATE else 1):
                lane = min(lanes, key=lambda candidate: max(free_from[candidate], patient_free))
                start = max(free_from[lane], patient_free)
                if start > last_start:
                    break
                protocol = ctx.rng.choice(protocols)
                days = _course_days(calendar, protocol, start, lane)
                free_from[lane] = days[-1] + timedelta(days=1)
                patient_free = days[-1] + timedelta(days=30 + ctx.rng.randrange(365))
                pending.append(
                    {
                        "course": {
                            "patient_id": patient_id,
                            "protocol_id": protocol.id,
                            "planned_sessions": len(days),
                            "prescribed_pct_mt": protocol.intensity_pct_mt,
                            "status": CourseStatus.COMPLETED
                            if days[-1] < today
                            else CourseStatus.ACTIVE,
                            "created_at": datetime.combine(start, time(12), tzinfo=UTC),
                        },
                        "sessions": [
                            (lane[0], day, lane[1], protocol.slot_minutes) for day in days
                        ],
                    }
                )
            if len(pending) >= BATCH // 40:
                written += _write(ctx, pending, tz, now)
                pending = []
    written += _write(ctx, pending, tz, now)
    return written


def _course_days(
    calendar: booking.Calendar, protocol: Protocol, start: date, lane: tuple[int, int]
) -> list[date]:
    """The days the pattern gives from `start` (an empty clinic, so only the calendar counts)."""
    request = booking.Request(
        patient=booking.Patient(id=0, tz=calendar.tz, one_a_day=True),
        phases=patterns.expand_pattern(
            protocol.pattern,
            protocol.default_sessions,
            protocol.default_sessions,
            start=start,
        ),
        start=start,
        local_time=time(FIRST_LANE_HOUR + lane[1]),
        length=timedelta(minutes=protocol.slot_minutes),
        device_id=lane[0],
    )
    empty = booking.Occupancy(lambda _spans, _patient_id: (), calendar.tz)
    plan = booking.plan_sessions(calendar, empty, request)
    return [session.starts_at.astimezone(calendar.tz).date() for session in plan.sessions]


def _write(ctx: DemoContext, pending: list[dict[str, Any]], tz: Any, now: datetime) -> int:
    if not pending:
        return 0
    course_ids = db.session.scalars(
        insert(Course).returning(Course.id, sort_by_parameter_order=True),
        [item["course"] for item in pending],
    ).all()
    rows = []
    for course_id, item in zip(course_ids, pending, strict=True):
        patient_id = item["course"]["patient_id"]
        for sequence, (device_id, day, hour, minutes) in enumerate(item["sessions"], start=1):
            starts_at = datetime.combine(day, time(FIRST_LANE_HOUR + hour), tzinfo=tz)
            ends_at = starts_at + timedelta(minutes=minutes)
            past = ends_at < now
            status = AppointmentStatus.SCHEDULED
            if past:
                status = (
                    AppointmentStatus.NO_SHOW
                    if ctx.rng.random() < NO_SHOW_RATE
                    else AppointmentStatus.COMPLETED
                )
            rows.append(
                {
                    "course_id": course_id,
                    "patient_id": patient_id,
                    "device_id": device_id,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "kind": AppointmentKind.TREATMENT,
                    "status": status,
                    "sequence": sequence,
                    "is_makeup": False,
                    "revision": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    for chunk in _chunks(rows):
        db.session.execute(insert(Appointment), chunk)
    return len(rows)


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for index in range(0, len(rows), BATCH):
        yield rows[index : index + BATCH]

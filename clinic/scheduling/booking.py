"""The booking engine: turns a course's pattern into concrete sessions.

Planning is pure: `plan_sessions` and `find_start` work on a `Calendar` (opening hours,
closures, maintenance, active devices) and an `Occupancy` (which chair and which
patient is busy when), both plain Python objects, so every rule is tested without a
database. `clinic.scheduling.calendar` loads them, `clinic.scheduling.booking_service`
asks for a plan and writes it; `clinic.scheduling.patterns` turns a course's pattern
into the phases planned here.

Rules (DOMAIN.md):
- Sessions are placed at the patient's local wall-clock time (`zoneinfo`), so 09:00
  stays 09:00 across a daylight-saving change. Course sessions go on weekdays only.
- A day is usable when the clinic has opening hours that weekday and no closure; a
  session must fit inside the opening hours, off its chair's maintenance windows, clear
  of the chair's and the patient's other appointments.
- When the wanted start is taken on every chair, the nearest free start that day wins,
  searched in 5-minute steps; at equal distance the EARLIER start wins. When nothing is
  free that day, the session moves to the next open day.
- Outside accelerated courses a patient has at most one treatment a day. In accelerated
  ones each session starts at least the protocol's gap after the previous session's
  stimulation ends (its set-up buffer does not add to the gap), on the 5-minute grid.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from clinic.scheduling.free_time import (
    NEAR,
    REACHES,
    STEP,
    Span,
    free_gaps,
    near_span,
    nearest_in_gap,
)
from clinic.scheduling.patterns import Phases

PREFETCH_DAYS = 28
HORIZON_DAYS = 365
"""A course that cannot be fully placed within a year of its start is refused."""
# Spread days for a taper week of n sessions (0 = Monday): Mon/Wed/Fri, Tue/Thu, Wed.
SPREAD_DAYS: dict[int, tuple[int, ...]] = {3: (0, 2, 4), 2: (1, 3), 1: (2,)}
WORKING_WEEK = (0, 1, 2, 3, 4)


class Busy(NamedTuple):
    """Something that occupies a chair and a patient: an appointment, or a planned one.

    A tuple rather than a dataclass: the planner builds thousands per course."""

    device_id: int
    patient_id: int
    starts_at: datetime
    ends_at: datetime
    treatment: bool = True
    appointment_id: int | None = None


@dataclass(frozen=True)
class Clash:
    """Why a chair or a time cannot be used. `code` is for machines, `message` for people."""

    code: str  # closed, outside_hours, device_inactive, maintenance, device, patient, patient_day
    message: str


@dataclass
class Calendar:
    """The clinic's availability: what the admin pages configure."""

    tz: ZoneInfo
    hours: dict[int, tuple[time, time]]
    closures: dict[date, str]
    devices: dict[int, str]
    """Active devices, in the order they are offered (id -> name)."""
    maintenance: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    chairs: tuple[int, ...] | None = None
    """Every chair of the site, active or not, whose sessions are its busy time (None:
    every chair, as a single clinic has them)."""

    def closed_reason(self, day: date) -> str | None:
        """Why the clinic is closed on `day` (its own calendar), or None when it is open."""
        if day in self.closures:
            reason = self.closures[day]
            return f"the clinic is closed on {day:%a %d %b %Y}" + (f" ({reason})" if reason else "")
        if day.weekday() not in self.hours:
            return f"the clinic has no opening hours on {day:%A}s"
        return None

    def open_interval(self, day: date) -> tuple[datetime, datetime] | None:
        if self.closed_reason(day):
            return None
        opens, closes = self.hours[day.weekday()]
        return (
            datetime.combine(day, opens, tzinfo=self.tz),
            datetime.combine(day, closes, tzinfo=self.tz),
        )

    def in_maintenance(self, device_id: int, starts_at: datetime, ends_at: datetime) -> bool:
        return any(
            start < ends_at and starts_at < end
            for start, end in self.maintenance.get(device_id, ())
        )

    def device_name(self, device_id: int) -> str:
        return self.devices.get(device_id, f"device {device_id}")


class Occupancy:
    """Who is busy when, loaded on demand and only as much as the planner looks at.

    `load(spans, patient)` returns, in one query, the live appointments overlapping any
    of `spans` and, when `patient` = (patient_id, span) is given, the patient's own
    overlapping that span. Chairs are loaded per span of a day - usually the hour around
    the wanted time, wider (`REACHES`, then the whole day) only when that is full: a booking's
    cost is the rows it reads: a 36-session course over whole days read thousands. A
    patient's appointments are loaded for whole chunks of days (few rows, and one-a-day
    needs the whole day). A planner covers the days it expects to use up front, so a
    course costs one query, not one per chunk of days.
    Planned sessions are added with `add` so later sessions of the same plan see them.
    `ignore` leaves out appointments (the ones being moved).
    """

    def __init__(
        self,
        load: Callable[[Sequence[Span], tuple[int, Span] | None], Iterable[Busy]],
        tz: ZoneInfo,
        *,
        patient_chunk_days: int = 91,
        ignore: Collection[int] = (),
    ) -> None:
        self._load = load
        self._tz = tz
        self._patient_chunk_days = patient_chunk_days
        self._ignore = frozenset(ignore)
        self._covered: dict[date, list[Span]] = {}
        self._patient_chunks: set[tuple[int, int]] = set()
        self._seen: set[int] = set()
        self._by_device: dict[tuple[date, int], list[Busy]] = {}
        self._by_patient: dict[tuple[date, int], list[Busy]] = {}

    def _take(self, rows: Iterable[Busy]) -> None:
        for busy in rows:
            if busy.appointment_id is not None:
                if busy.appointment_id in self._seen or busy.appointment_id in self._ignore:
                    continue
                self._seen.add(busy.appointment_id)
            self._index(busy.starts_at.astimezone(self._tz).date(), busy)

    def _index(self, day: date, busy: Busy) -> None:
        self._by_device.setdefault((day, busy.device_id), []).append(busy)
        self._by_patient.setdefault((day, busy.patient_id), []).append(busy)

    def _whole_day(self, day: date) -> Span:
        start = datetime.combine(day, time(0), tzinfo=self._tz)
        return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._tz)

    def covers(self, day: date, start: datetime, end: datetime) -> bool:
        """Whether the chairs' appointments overlapping [start, end) of `day` are loaded."""
        return any(lo <= start and end <= hi for lo, hi in self._covered.get(day, ()))

    def cover(
        self,
        spans: Iterable[tuple[date, datetime, datetime]],
        patient: tuple[int, date, date] | None = None,
    ) -> None:
        """Load the chairs' appointments overlapping each (day, start, end) not yet
        loaded and, with `patient` = (patient_id, first, last), that patient's between
        the two days, all in one query."""
        todo = [(day, start, end) for day, start, end in spans if not self.covers(day, start, end)]
        chunks: list[int] = []
        if patient is not None:
            patient_id, first, last = patient
            size = self._patient_chunk_days
            every = range(first.toordinal() // size, last.toordinal() // size + 1)
            chunks = [chunk for chunk in every if (patient_id, chunk) not in self._patient_chunks]
        if not todo and not chunks:
            return
        mine = None
        if patient is not None and chunks:
            lo = date.fromordinal(chunks[0] * self._patient_chunk_days)
            hi = date.fromordinal((chunks[-1] + 1) * self._patient_chunk_days)
            mine = (patient[0], (self._whole_day(lo)[0], self._whole_day(hi)[0]))
            self._patient_chunks.update((patient[0], chunk) for chunk in chunks)
        self._take(self._load([(start, end) for _day, start, end in todo], mine))
        for day, start, end in todo:
            self._covered.setdefault(day, []).append((start, end))

    def of_device(self, day: date, device_id: int, span: Span | None = None) -> list[Busy]:
        """The chair's appointments starting on `day` that overlap `span` (the whole day
        when None); others of that day may be included."""
        self.cover([(day, *(span or self._whole_day(day)))])
        return self._by_device.get((day, device_id), [])

    def of_patient(self, day: date, patient_id: int) -> list[Busy]:
        """Everything of the patient's starting on `day`."""
        if (patient_id, day.toordinal() // self._patient_chunk_days) not in self._patient_chunks:
            self.cover((), (patient_id, day, day))
        return self._by_patient.get((day, patient_id), [])

    def add(self, busy: Busy) -> None:
        self._index(busy.starts_at.astimezone(self._tz).date(), busy)


@dataclass(frozen=True)
class Placement:
    device_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Patient:
    """The patient's side of a booking request."""

    id: int
    tz: ZoneInfo
    one_a_day: bool
    """False for accelerated courses (several sessions a day are the point)."""


def time_clashes(
    calendar: Calendar,
    occupancy: Occupancy,
    patient: Patient,
    starts_at: datetime,
    ends_at: datetime,
) -> list[Clash]:
    """What stops the patient from being treated at this time, whatever the chair."""
    day = starts_at.astimezone(calendar.tz).date()
    reason = calendar.closed_reason(day)
    if reason:
        return [Clash("closed", reason[:1].upper() + reason[1:] + ".")]
    window = calendar.open_interval(day)
    assert window is not None
    found: list[Clash] = []
    if starts_at < window[0] or ends_at > window[1]:
        found.append(
            Clash(
                "outside_hours",
                f"Outside opening hours ({window[0]:%H:%M}-{window[1]:%H:%M}).",
            )
        )
    mine = occupancy.of_patient(day, patient.id)
    if any(b.starts_at < ends_at and starts_at < b.ends_at for b in mine):
        found.append(Clash("patient", "The patient has another appointment at that time."))
    elif patient.one_a_day and any(b.treatment for b in mine):
        found.append(Clash("patient_day", "The patient already has a treatment that day."))
    return found


def device_clashes(
    calendar: Calendar,
    occupancy: Occupancy,
    device_id: int,
    starts_at: datetime,
    ends_at: datetime,
) -> list[Clash]:
    """What stops this chair from being used at this time."""
    name = calendar.device_name(device_id)
    if device_id not in calendar.devices:
        return [Clash("device_inactive", f"Device {name} is not in service.")]
    if calendar.in_maintenance(device_id, starts_at, ends_at):
        return [Clash("maintenance", f"Device {name} is under maintenance then.")]
    day = starts_at.astimezone(calendar.tz).date()
    for busy in occupancy.of_device(day, device_id, (starts_at, ends_at)):
        if busy.starts_at < ends_at and starts_at < busy.ends_at:
            return [Clash("device", f"Device {name} is already booked then.")]
    return []


def clashes(
    calendar: Calendar,
    occupancy: Occupancy,
    patient: Patient,
    device_id: int,
    starts_at: datetime,
    ends_at: datetime,
) -> list[Clash]:
    """Every reason one appointment cannot go here (empty: it can)."""
    return time_clashes(calendar, occupancy, patient, starts_at, ends_at) + device_clashes(
        calendar, occupancy, device_id, starts_at, ends_at
    )


def find_start(
    calendar: Calendar,
    occupancy: Occupancy,
    patient: Patient,
    wanted: datetime,
    length: timedelta,
    *,
    device_id: int | None = None,
    forward_only: bool = False,
) -> Placement | None:
    """The free start nearest to `wanted` (5-minute steps, the earlier start on a tie) on
    the same clinic day, on the wanted device when free at that start, else the first
    free active device; None when the day has no room (or the patient is treated already).

    Works on free gaps per device rather than trying every step: a full day costs a few
    sorted lists, not hundreds of overlap checks. Searches the `near_span`s first.
    """
    day = wanted.astimezone(calendar.tz).date()
    window = calendar.open_interval(day)
    if window is None:
        return None
    mine = occupancy.of_patient(day, patient.id)
    if patient.one_a_day and any(b.treatment for b in mine):
        return None
    patient_busy = [(b.starts_at, b.ends_at) for b in mine]
    devices = list(calendar.devices)
    if device_id in calendar.devices:
        devices.remove(device_id)
        devices.insert(0, device_id)
    near = (near_span(window, wanted, length, forward_only=forward_only, reach=r) for r in REACHES)
    for span in dict.fromkeys([*near, window]):
        best: tuple[tuple[timedelta, datetime, int], int, datetime] | None = None
        for priority, device in enumerate(devices):
            busy = [(b.starts_at, b.ends_at) for b in occupancy.of_device(day, device, span)]
            busy += calendar.maintenance.get(device, [])
            for gap in free_gaps(busy + patient_busy, *span):
                start = nearest_in_gap(gap, wanted, length, forward_only)
                if start is None:
                    continue
                key = (abs(start - wanted), start, priority)
                if best is None or key < best[0]:
                    best = (key, device, start)
        if best is not None:
            return Placement(best[1], best[2], best[2] + length)
    return None


@dataclass(frozen=True)
class PlannedSession:
    device_id: int
    starts_at: datetime
    ends_at: datetime
    notes: tuple[str, ...] = ()
    """Where this session differs from what was asked (other time, chair or day)."""


@dataclass
class Plan:
    sessions: list[PlannedSession] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Days passed over, and why (closures, full days)."""
    missing: int = 0
    """Sessions that found no place within the horizon."""

    @property
    def clashes(self) -> list[str]:
        notes = [f"{s.starts_at:%Y-%m-%d}: {n}" for s in self.sessions for n in s.notes]
        return self.skipped + notes


@dataclass(frozen=True)
class Request:
    """Book `phases` for `patient` from `start` at `local_time` (patient's wall clock)."""

    patient: Patient
    phases: Phases
    start: date
    local_time: time
    length: timedelta
    device_id: int | None = None
    horizon_days: int = HORIZON_DAYS
    usual_device_id: int | None = None
    """With "any free chair": the chair the course already uses, preferred whenever it is
    free at the start found (a patient keeps their chair from day to day)."""


class _Planner:
    def __init__(self, calendar: Calendar, occupancy: Occupancy, request: Request) -> None:
        self.calendar = calendar
        self.occupancy = occupancy
        self.request = request
        self.plan = Plan()
        self.last_day = request.start + timedelta(days=request.horizon_days)
        self.usual_device_id = request.usual_device_id
        self.expected_end = request.start + timedelta(days=self._expected_days() - 1)
        self.wide_until: dict[timedelta | None, date] = {}  # read that wide (`_widen`)

    def _wanted(self, day: date) -> datetime:
        return datetime.combine(day, self.request.local_time, tzinfo=self.request.patient.tz)

    def _near(
        self, day: date, reach: timedelta | None = NEAR
    ) -> tuple[date, datetime, datetime] | None:
        """The clinic day and `near_span` of the wanted start on `day` (its whole opening
        with `reach` None; None: closed)."""
        wanted = self._wanted(day)
        clinic_day = wanted.astimezone(self.calendar.tz).date()
        window = self.calendar.open_interval(clinic_day)
        if window is None:
            return None
        if reach is None:
            return clinic_day, *window
        return clinic_day, *near_span(window, wanted, self.request.length, reach=reach)

    def _prefetch(self, day: date) -> None:
        """When the day was not foreseen (a course running late), load the chairs around
        the wanted time for the coming weeks in one query, not one query a day."""
        near = self._near(day)
        if near is not None and not self.occupancy.covers(*near):
            self._cover(day, PREFETCH_DAYS)

    def _cover(
        self, first: date, days: int, *, patient: bool = False, reach: timedelta | None = NEAR
    ) -> None:
        """Load the chairs within `reach` of the wanted time (all day with None) on the
        working days from `first` on, and with `patient` the patient's then, in one query."""
        last = min(first + timedelta(days=days - 1), self.last_day)
        every = (first + timedelta(days=n) for n in range((last - first).days + 1))
        spans = (self._near(d, reach) for d in every if d.weekday() in WORKING_WEEK)
        margin = timedelta(days=1)  # the patient's days are on the clinic's clock
        self.occupancy.cover(
            (span for span in spans if span is not None),
            (self.request.patient.id, first - margin, last + margin) if patient else None,
        )

    def _expected_days(self) -> int:
        """About how many days the course takes, with a week to spare for closures and
        full days: what `run` loads before it starts placing."""
        phases = self.request.phases
        daily_days = -(-phases.daily // max(phases.per_day, 1))
        return (daily_days // len(WORKING_WEEK) + 1) * 7 + 7 * (len(phases.weekly) + 1)

    def _skip_reason(self, day: date) -> str | None:
        clinic_day = self._wanted(day).astimezone(self.calendar.tz).date()
        return self.calendar.closed_reason(clinic_day)

    def _place(self, wanted: datetime, *, forward_only: bool = False) -> Placement | None:
        request = self.request
        found = find_start(
            self.calendar,
            self.occupancy,
            request.patient,
            wanted,
            request.length,
            device_id=request.device_id or self.usual_device_id,
            forward_only=forward_only,
        )
        if found is None:
            return None
        if self.usual_device_id is None:
            self.usual_device_id = found.device_id
        notes = []
        if found.starts_at != wanted:
            local = found.starts_at.astimezone(request.patient.tz)
            notes.append(f"{wanted:%H:%M} is taken; booked at the nearest free start {local:%H:%M}")
        if request.device_id is not None and found.device_id != request.device_id:
            notes.append(
                f"{self.calendar.device_name(request.device_id)} is not free; "
                f"booked on {self.calendar.device_name(found.device_id)}"
            )
        self.occupancy.add(
            Busy(found.device_id, request.patient.id, found.starts_at, found.ends_at, True)
        )
        self.plan.sessions.append(
            PlannedSession(found.device_id, found.starts_at, found.ends_at, tuple(notes))
        )
        return found

    def _place_day(self, day: date, count: int) -> int:
        """Up to `count` sessions on `day` (several only for accelerated courses)."""
        phases = self.request.phases
        reason = self._skip_reason(day)
        if reason:
            self.plan.skipped.append(f"{day:%Y-%m-%d}: skipped, {reason}")
            return 0
        self._prefetch(day)
        placed = 0
        first = wanted = self._wanted(day)
        while placed < count:
            found = self._place(wanted, forward_only=placed > 0)
            if found is None:
                break
            placed += 1
            # The gap runs from the end of the stimulation, not of the slot's set-up
            # buffer (SAINT: ten minutes of stimulation, fifty minutes apart, hourly).
            after = found.starts_at + (phases.stimulation or self.request.length) + phases.min_gap
            wanted = first + STEP * -(-(after - first) // STEP)
        if placed == 0:
            self.plan.skipped.append(f"{day:%Y-%m-%d}: skipped, {self._full_reason(wanted)}")
        self._widen(day)
        return placed

    def _widen(self, day: date) -> None:
        """The wanted time was full, so a wider span of the day was read: the coming days
        are likely full too, so read them as wide, weeks at a time, not one day a time."""
        for reach in (None, *REACHES[:0:-1]):  # the widest read first
            today = self._near(day, reach)
            if today is not None and self.occupancy.covers(*today):
                break
        else:
            return
        until = self.wide_until.get(reach)
        if until is None or until - day < timedelta(days=7):
            first = max(day, until or day) + timedelta(days=1)
            # The first time, the rest of the days the course is expected to take.
            days = max(PREFETCH_DAYS, (self.expected_end - first).days + 1)
            self._cover(first, days, reach=reach)
            self.wide_until[reach] = first + timedelta(days=days - 1)

    def _full_reason(self, wanted: datetime) -> str:
        found = time_clashes(
            self.calendar,
            self.occupancy,
            self.request.patient,
            wanted,
            wanted + self.request.length,
        )
        if any(c.code == "patient_day" for c in found):
            return "the patient already has a treatment that day"
        return "no free chair and time that day"

    def run(self) -> Plan:
        phases = self.request.phases
        self._cover(self.request.start, self._expected_days(), patient=True)
        left = phases.daily
        day = self.request.start
        while left and day <= self.last_day:
            if day.weekday() in WORKING_WEEK:
                left -= self._place_day(day, min(phases.per_day, left))
            day += timedelta(days=1)
        carry = left
        if self.plan.sessions:
            last = self.plan.sessions[-1].starts_at.astimezone(self.request.patient.tz).date()
            week = _monday(last) + timedelta(days=7)
        else:
            week = _monday(self.request.start)
        groups = list(phases.weekly)
        while (groups or carry) and week <= self.last_day:
            wanted = (groups.pop(0) if groups else 0) + carry
            placed = 0
            for candidate in self._week_days(week, wanted):
                if placed == wanted:
                    break
                placed += self._place_day(candidate, 1)
            carry = wanted - placed
            week += timedelta(days=7)
        self.plan.missing = carry + sum(groups)
        self.plan.sessions.sort(key=lambda s: s.starts_at)
        return self.plan

    def _week_days(self, monday: date, count: int) -> list[date]:
        """The week's weekdays, the spread days for `count` sessions first."""
        preferred = self.request.phases.weekly_days or SPREAD_DAYS.get(count, WORKING_WEEK)
        days = [
            monday + timedelta(days=offset)
            for offset in WORKING_WEEK
            if self.request.start <= monday + timedelta(days=offset) <= self.last_day
        ]
        return sorted(
            days, key=lambda d: (min(abs(d.weekday() - p) for p in preferred), d.weekday())
        )


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def plan_sessions(calendar: Calendar, occupancy: Occupancy, request: Request) -> Plan:
    """Place every session of `request.phases`; `occupancy` gains the planned sessions."""
    return _Planner(calendar, occupancy, request).run()

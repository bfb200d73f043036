"""A course's pattern (DOMAIN.md, CONTRACT 7) as phases the booking planner places: the one
place that knows what daily + taper, accelerated, daily-then-weekly and a course's own
`{"daily", "taper", "weekly"}` mean. Booking, make-ups and the projected end all ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clinic.courses.models import Course

TAPER_GROUPS = (3, 2, 1)
TAPER_MIN_PLANNED = 12
DAILY_THEN_WEEKLY_DAILY = 5
MAX_PATTERN_SESSIONS = 100
MAX_TAPER_WEEKS = 12
MAX_WEEKLY_WEEKS = 52
WORKING_DAYS = 5


@dataclass(frozen=True)
class Phases:
    """A pattern expanded for the sessions still to book: first `daily` sessions on
    consecutive open weekdays (`per_day` a day), then one week per entry of `weekly`."""

    daily: int
    weekly: tuple[int, ...] = ()
    per_day: int = 1
    min_gap: timedelta = timedelta(0)
    weekly_days: tuple[int, ...] | None = None
    """Preferred weekdays for every weekly session (None: SPREAD_DAYS by group size)."""
    stimulation: timedelta = timedelta(0)
    """How long a session stimulates: several a day start `min_gap` after it ends (the
    set-up buffer of the slot does not add to the gap). Zero: after the whole slot."""


@dataclass(frozen=True)
class CoursePattern:
    """A whole course's shape: `daily` sessions on consecutive open weekdays, then one week
    per `taper` entry holding that many, then `weeks` weeks of `per_week` sessions."""

    daily: int
    taper: tuple[int, ...] = ()
    per_week: int = 0
    weeks: int = 0
    weekly_days: tuple[int, ...] | None = None

    @property
    def total(self) -> int:
        return self.daily + sum(self.taper) + self.per_week * self.weeks

    @property
    def groups(self) -> tuple[int, ...]:
        """Sessions per week after the daily phase, week by week."""
        return self.taper + (self.per_week,) * self.weeks

    def describe(self) -> str:
        """For people: "20 daily, then a taper of 3 + 2, then 2 a week for 12 weeks"."""
        parts = [f"{self.daily} daily"] if self.daily else []
        if self.taper:
            parts.append("a taper of " + " + ".join(str(n) for n in self.taper))
        if self.weeks:
            parts.append(f"{self.per_week} a week for {self.weeks} weeks")
        return ", then ".join(parts)

    def as_json(self) -> dict[str, Any]:
        """The contract's shape (CONTRACT 7)."""
        found: dict[str, Any] = {"daily": self.daily, "taper": list(self.taper)}
        if self.weeks:
            found["weekly"] = {"per_week": self.per_week, "weeks": self.weeks}
        return found


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse_pattern(data: Any) -> tuple[CoursePattern | None, list[str]]:
    """A course's own pattern from its JSON shape, or the reasons it is not one."""
    if not isinstance(data, dict):
        return None, ['An object {"daily": D, "taper": [..], "weekly": {..}}.']
    errors = [f"Unknown key {key!r}." for key in sorted(set(data) - {"daily", "taper", "weekly"})]
    daily = data.get("daily", 0)
    if not _whole(daily, 0, MAX_PATTERN_SESSIONS):
        errors.append(f"daily: a whole number from 0 to {MAX_PATTERN_SESSIONS}.")
    taper = data.get("taper", [])
    if not isinstance(taper, list) or len(taper) > MAX_TAPER_WEEKS:
        errors.append(f"taper: a list of at most {MAX_TAPER_WEEKS} weeks.")
    elif not all(_whole(n, 1, WORKING_DAYS) for n in taper):
        errors.append(f"taper: each week holds 1 to {WORKING_DAYS} sessions.")
    weekly = data.get("weekly") or {}
    per_week, weeks = 0, 0
    if not isinstance(weekly, dict) or set(weekly) - {"per_week", "weeks"}:
        errors.append('weekly: {"per_week": k, "weeks": w}.')
    else:
        per_week, weeks = weekly.get("per_week", 0), weekly.get("weeks", 0)
        if weekly and not _whole(per_week, 1, WORKING_DAYS):
            errors.append(f"weekly.per_week: 1 to {WORKING_DAYS}.")
        if weekly and not _whole(weeks, 1, MAX_WEEKLY_WEEKS):
            errors.append(f"weekly.weeks: 1 to {MAX_WEEKLY_WEEKS}.")
    if errors:
        return None, errors
    pattern = CoursePattern(daily, tuple(taper), per_week, weeks)
    if not 1 <= pattern.total <= MAX_PATTERN_SESSIONS:
        return None, [f"The pattern holds {pattern.total} sessions; 1 to {MAX_PATTERN_SESSIONS}."]
    return pattern, []


def protocol_pattern(code: str, planned: int, start: date | None = None) -> CoursePattern:
    """A protocol's pattern for `planned` sessions, as a course pattern.

    daily_taper: P-6 daily, then 3, 2 and 1 a week (all daily when P < 12).
    accelerated: all daily (several a day; the protocol says how many).
    daily_then_weekly: 5 daily, then one a week on the start date's weekday.
    """
    if code == "accelerated":
        return CoursePattern(daily=planned)
    if code == "daily_then_weekly":
        daily = min(DAILY_THEN_WEEKLY_DAILY, planned)
        weekday = start.weekday() if start is not None and start.weekday() < 5 else 0
        return CoursePattern(daily, per_week=1, weeks=planned - daily, weekly_days=(weekday,))
    if code == "daily_taper":
        taper = TAPER_GROUPS if planned >= TAPER_MIN_PLANNED else ()
        return CoursePattern(planned - sum(taper), taper)
    raise ValueError(f"unknown pattern {code!r}")


def course_pattern(course: Course, start: date | None = None) -> CoursePattern:
    """The course's own pattern when it has one, else its protocol's."""
    if course.pattern is not None:
        pattern, _errors = parse_pattern(course.pattern)
        if pattern is not None:
            return pattern
    return protocol_pattern(course.protocol.pattern, course.planned_sessions, start)


def expand_pattern(
    pattern: str | CoursePattern,
    planned: int,
    remaining: int,
    *,
    start: date,
    sessions_per_day: int = 1,
    min_gap_minutes: int = 0,
    stimulation_seconds: float = 0,
) -> Phases:
    """The last `remaining` of `planned` sessions of `pattern` (a protocol's pattern code or
    a course's own), as phases: the delivered and booked ones come off the front."""
    shape = protocol_pattern(pattern, planned, start) if isinstance(pattern, str) else pattern
    remaining = max(0, min(remaining, planned))
    groups = shape.groups
    # A course whose planned count outgrew its shape books the extra days in its daily phase.
    daily_total = shape.daily + max(0, planned - shape.total)
    done = planned - remaining
    daily = max(0, daily_total - done)
    done_weekly = max(0, done - daily_total)
    left: list[int] = []
    for size in groups:
        taken = min(size, done_weekly)
        done_weekly -= taken
        if size - taken:
            left.append(size - taken)
    return Phases(
        daily=daily,
        weekly=tuple(left),
        per_day=max(1, sessions_per_day),
        min_gap=timedelta(minutes=max(0, min_gap_minutes)),
        weekly_days=shape.weekly_days,
        stimulation=timedelta(seconds=max(0.0, stimulation_seconds)),
    )


def course_phases(course: Course, remaining: int, start: date) -> Phases:
    """`expand_pattern` for a course: its pattern, its protocol's sessions a day and gap."""
    protocol = course.protocol
    return expand_pattern(
        course_pattern(course, start),
        course.planned_sessions,
        remaining,
        start=start,
        sessions_per_day=protocol.sessions_per_day,
        min_gap_minutes=protocol.min_gap_minutes,
        stimulation_seconds=protocol.session_seconds,
    )

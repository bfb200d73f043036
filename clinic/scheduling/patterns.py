"""A course's pattern (DOMAIN.md) as phases the booking planner places: the one place
that knows what daily + taper, accelerated and daily-then-weekly mean."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

TAPER_GROUPS = (3, 2, 1)
TAPER_MIN_PLANNED = 12
DAILY_THEN_WEEKLY_DAILY = 5


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


def expand_pattern(
    pattern: str,
    planned: int,
    remaining: int,
    *,
    start: date,
    sessions_per_day: int = 1,
    min_gap_minutes: int = 0,
) -> Phases:
    """The last `remaining` of `planned` sessions of `pattern`, as phases.

    daily_taper: P-6 daily, then 3, 2 and 1 a week (all daily when P < 12).
    accelerated: all daily, up to `sessions_per_day` a day with a gap between them.
    daily_then_weekly: 5 daily, then one a week on the start date's weekday.
    """
    remaining = max(0, min(remaining, planned))
    if pattern == "accelerated":
        return Phases(
            daily=remaining,
            per_day=max(1, sessions_per_day),
            min_gap=timedelta(minutes=max(0, min_gap_minutes)),
        )
    if pattern == "daily_then_weekly":
        daily_total = min(DAILY_THEN_WEEKLY_DAILY, planned)
        weekly_total = planned - daily_total
        groups: tuple[int, ...] = (1,) * weekly_total
        weekly_days: tuple[int, ...] | None = (start.weekday() if start.weekday() < 5 else 0,)
    elif pattern == "daily_taper":
        taper = planned >= TAPER_MIN_PLANNED
        groups = TAPER_GROUPS if taper else ()
        daily_total = planned - sum(groups)
        weekly_days = None
    else:
        raise ValueError(f"unknown pattern {pattern!r}")
    done = planned - remaining
    daily = max(0, daily_total - done)
    done_weekly = max(0, done - daily_total)
    left: list[int] = []
    for size in groups:
        taken = min(size, done_weekly)
        done_weekly -= taken
        if size - taken:
            left.append(size - taken)
    return Phases(daily=daily, weekly=tuple(left), weekly_days=weekly_days)

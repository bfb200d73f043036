"""The due-time rules: wall-clock days across daylight saving, and quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from clinic.reminders import timing

NY = ZoneInfo("America/New_York")
QUIET = (time(21, 0), time(8, 0))


def test_24_hours_before_is_the_same_local_time_the_day_before_across_spring_forward() -> None:
    # Monday 2026-03-09 09:00 EDT; clocks sprang forward on Sunday 2026-03-08 at 02:00.
    start = datetime(2026, 3, 9, 9, 0, tzinfo=NY).astimezone(UTC)
    due = timing.reminder_due(start, 24 * 60, NY, *QUIET)
    assert due == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # Sunday 09:00 EDT
    assert due.astimezone(NY).hour == 9


def test_24_hours_before_spanning_spring_forward_is_23_real_hours() -> None:
    # Sunday 2026-03-08 09:00 EDT; the reminder is Saturday 09:00 EST, before the change.
    start = datetime(2026, 3, 8, 9, 0, tzinfo=NY).astimezone(UTC)
    due = timing.reminder_due(start, 24 * 60, NY, *QUIET)
    assert due == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)
    assert (start - due).total_seconds() == 23 * 3600


def test_24_hours_before_across_fall_back() -> None:
    start = datetime(2026, 11, 1, 9, 0, tzinfo=NY).astimezone(UTC)
    due = timing.reminder_due(start, 24 * 60, NY, *QUIET)
    assert due.astimezone(NY) == datetime(2026, 10, 31, 9, 0, tzinfo=NY)
    assert (start - due).total_seconds() == 25 * 3600


def test_hours_are_real_elapsed_time() -> None:
    start = datetime(2026, 3, 10, 15, 0, tzinfo=NY).astimezone(UTC)
    assert timing.reminder_due(start, 120, NY, *QUIET).astimezone(NY).time() == time(13, 0)


def test_due_in_the_evening_quiet_hours_moves_before_they_begin() -> None:
    start = datetime(2026, 3, 10, 22, 30, tzinfo=NY).astimezone(UTC)
    # One hour before is 21:30, inside quiet hours: 30 minutes before they begin instead.
    assert timing.reminder_due(start, 60, NY, *QUIET).astimezone(NY).time() == time(20, 30)


def test_due_in_the_early_morning_moves_to_the_evening_before() -> None:
    start = datetime(2026, 3, 10, 9, 0, tzinfo=NY).astimezone(UTC)
    due = timing.reminder_due(start, 120, NY, *QUIET)  # 07:00 is quiet
    assert due.astimezone(NY) == datetime(2026, 3, 9, 20, 30, tzinfo=NY)


def test_outside_quiet_hours_nothing_moves() -> None:
    start = datetime(2026, 3, 10, 14, 0, tzinfo=NY).astimezone(UTC)
    assert timing.reminder_due(start, 120, NY, *QUIET).astimezone(NY).time() == time(12, 0)


def test_quiet_hours_follow_the_patients_time_zone() -> None:
    la = ZoneInfo("America/Los_Angeles")
    start = datetime(2026, 3, 10, 9, 30, tzinfo=la).astimezone(UTC)
    due = timing.reminder_due(start, 120, la, *QUIET)  # 07:30 in LA: quiet there
    assert due.astimezone(la) == datetime(2026, 3, 9, 20, 30, tzinfo=la)


def test_late_reminder_goes_now_or_after_quiet_hours_or_not_at_all() -> None:
    start = datetime(2026, 3, 10, 9, 0, tzinfo=NY).astimezone(UTC)
    noon_before = datetime(2026, 3, 9, 12, 0, tzinfo=NY).astimezone(UTC)
    assert timing.late_due(noon_before, start, NY, *QUIET) == noon_before
    night = datetime(2026, 3, 9, 23, 0, tzinfo=NY).astimezone(UTC)
    assert timing.late_due(night, start, NY, *QUIET) == datetime(2026, 3, 10, 8, 0, tzinfo=NY)
    early_start = datetime(2026, 3, 10, 7, 30, tzinfo=NY).astimezone(UTC)
    assert timing.late_due(night, early_start, NY, *QUIET) is None


def test_equal_quiet_bounds_mean_no_quiet_hours() -> None:
    instant = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    assert not timing.in_quiet_hours(instant, NY, time(0), time(0))

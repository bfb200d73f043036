"""When a reminder is due: offsets in the patient's wall-clock time, and quiet hours.

Pure functions (no database) so the rules are tested directly, daylight saving included.

- An offset of whole days counts calendar days on the patient's wall clock: "24 h before"
  a Monday 09:00 appointment is Sunday 09:00 local, even when a daylight-saving change
  lies in between (then it is 23 or 25 real hours). The remainder of an offset (the
  "2 h" of an SMS) is real elapsed time.
- A due time inside quiet hours moves earlier, to QUIET_MARGIN before they begin (so a
  dispatcher ticking every minute has sent it before the quiet hours start).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

QUIET_MARGIN = timedelta(minutes=30)
MINUTES_PER_DAY = 24 * 60


def offset_before(start: datetime, offset_minutes: int, tz: ZoneInfo) -> datetime:
    """The instant `offset_minutes` before `start`: whole days on the local calendar."""
    days, minutes = divmod(offset_minutes, MINUTES_PER_DAY)
    local = start.astimezone(tz)
    wall = local.replace(tzinfo=None) - timedelta(days=days)
    # A wall time that does not exist (spring forward) or exists twice (fall back) is
    # read with fold=0, i.e. with the UTC offset in force before the change.
    shifted = wall.replace(tzinfo=tz)
    return (shifted - timedelta(minutes=minutes)).astimezone(start.tzinfo)


def in_quiet_hours(instant: datetime, tz: ZoneInfo, quiet_start: time, quiet_end: time) -> bool:
    if quiet_start == quiet_end:
        return False
    wall = instant.astimezone(tz).time()
    if quiet_start < quiet_end:
        return quiet_start <= wall < quiet_end
    return wall >= quiet_start or wall < quiet_end


def _local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def before_quiet_hours(
    instant: datetime, tz: ZoneInfo, quiet_start: time, quiet_end: time
) -> datetime:
    """`instant` itself, or if it falls in quiet hours the margin before they began."""
    if not in_quiet_hours(instant, tz, quiet_start, quiet_end):
        return instant
    local = instant.astimezone(tz)
    day = local.date()
    if quiet_start > quiet_end and local.time() < quiet_end:
        day -= timedelta(days=1)  # after midnight: the quiet hours began the evening before
    began = _local_instant(day, quiet_start, tz)
    return (began - QUIET_MARGIN).astimezone(instant.tzinfo)


def after_quiet_hours(
    instant: datetime, tz: ZoneInfo, quiet_start: time, quiet_end: time
) -> datetime:
    """`instant` itself, or if it falls in quiet hours the moment they end."""
    if not in_quiet_hours(instant, tz, quiet_start, quiet_end):
        return instant
    local = instant.astimezone(tz)
    day = local.date()
    if quiet_start > quiet_end and local.time() >= quiet_start:
        day += timedelta(days=1)  # evening: the quiet hours end the next morning
    return _local_instant(day, quiet_end, tz).astimezone(instant.tzinfo)


def reminder_due(
    start: datetime,
    offset_minutes: int,
    tz: ZoneInfo,
    quiet_start: time,
    quiet_end: time,
) -> datetime:
    """The planned due time of a reminder for an appointment at `start`."""
    return before_quiet_hours(offset_before(start, offset_minutes, tz), tz, quiet_start, quiet_end)


def late_due(
    now: datetime, start: datetime, tz: ZoneInfo, quiet_start: time, quiet_end: time
) -> datetime | None:
    """For a reminder whose planned time has passed: send now, or when the quiet hours end;
    None when that is no longer before the appointment (then the reminder is skipped)."""
    due = after_quiet_hours(now, tz, quiet_start, quiet_end)
    return due if due < start else None

"""Laying out the day board and the week view (pure: no database, no Flask).

The day board is a table: one row per 15 minutes, one column per device. A session is
a cell spanning the rows it covers (rowspan); sessions that share rows on a chair (a
5-minute nearest-start next to another) share one cell, so the table never breaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from clinic.scheduling.booking import Calendar

ROW = timedelta(minutes=15)
DEFAULT_HOURS = (time(8), time(18))


@dataclass(frozen=True)
class Block:
    appointment: Any
    number: int
    """The session's place among its course's live sessions ("session n of N")."""

    @property
    def of(self) -> int:
        return int(self.appointment.planned_sessions)


@dataclass
class Cell:
    kind: str  # booked, free, unavailable
    span: int = 1
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Row:
    starts_at: datetime
    cells: list[Cell | None]
    """One per device; None where a cell above spans over this row."""

    @property
    def on_the_hour(self) -> bool:
        return self.starts_at.minute == 0


@dataclass
class DayBoard:
    day: date
    devices: Sequence[Any]
    rows: list[Row]
    closed_reason: str | None
    appointment_ids: list[int]

    @property
    def count(self) -> int:
        return len(self.appointment_ids)

    @property
    def opens(self) -> str | None:
        """The calendar's first row ("HH:MM" on the site's clock), as `WeekView.opens`."""
        return f"{self.rows[0].starts_at:%H:%M}" if self.rows else None

    @property
    def closes(self) -> str | None:
        """The hour after the last row starts, as `WeekView.closes`."""
        return f"{self.rows[-1].starts_at.hour + 1:02d}:00" if self.rows else None


def _floor(instant: datetime, start: datetime) -> int:
    return int((instant - start) // ROW)


def _ceil(instant: datetime, start: datetime) -> int:
    return -int((start - instant) // ROW)


def day_board(
    day: date,
    devices: Sequence[Any],
    rows: Sequence[tuple[Any, int]],
    calendar: Calendar,
) -> DayBoard:
    """Lay out `rows` of (appointment, session number) for `day` on the clinic's clock."""
    tz = calendar.tz
    opens, closes = calendar.hours.get(day.weekday(), DEFAULT_HOURS)
    first = datetime.combine(day, opens, tzinfo=tz)
    last = datetime.combine(day, closes, tzinfo=tz)
    for appointment, _number in rows:
        first = min(first, appointment.starts_at.astimezone(tz).replace(second=0))
        last = max(last, appointment.ends_at.astimezone(tz))
    first = first.replace(minute=first.minute - first.minute % 15)
    count = _ceil(last, first)
    columns = {device.id: index for index, device in enumerate(devices)}
    grid: list[list[Cell | None]] = [
        [_empty_cell(calendar, device.id, first + ROW * r) for device in devices]
        for r in range(count)
    ]
    placed: dict[int, list[tuple[int, Cell]]] = {column: [] for column in columns.values()}
    for appointment, number in sorted(rows, key=lambda row: row[0].starts_at):
        column = columns.get(appointment.device_id)
        if column is None:
            continue
        top = _floor(appointment.starts_at, first)
        bottom = max(_ceil(appointment.ends_at, first), top + 1)
        cells = placed[column]
        if cells and top < cells[-1][0] + cells[-1][1].span:
            start_row, cell = cells[-1]
            cell.span = max(cell.span, bottom - start_row)
        else:
            cell = Cell("booked", bottom - top)
            cells.append((top, cell))
        cell.blocks.append(Block(appointment, number))
    for column, cells in placed.items():
        for start_row, cell in cells:
            grid[start_row][column] = cell
            for r in range(start_row + 1, start_row + cell.span):
                grid[r][column] = None
    return DayBoard(
        day=day,
        devices=devices,
        rows=[Row(first + ROW * r, grid[r]) for r in range(count)],
        closed_reason=calendar.closed_reason(day),
        appointment_ids=[appointment.id for appointment, _number in rows],
    )


@dataclass
class WeekView:
    days: list[date]
    devices: Sequence[Any]
    cells: dict[tuple[int, date], list[Block]]
    closed: dict[date, str]
    opens: str
    closes: str
    """The calendar's first and last hour ("HH:00", "24:00" at most): the week's hours
    and every session in it, so a session outside the hours is still drawn."""

    def blocks(self, device_id: int, day: date) -> list[Block]:
        return self.cells.get((device_id, day), [])


def week_view(
    monday: date,
    devices: Sequence[Any],
    rows: Sequence[tuple[Any, int]],
    calendar: Calendar,
) -> WeekView:
    """Devices down, days across; the weekend only when the clinic opens or has sessions."""
    cells: dict[tuple[int, date], list[Block]] = {}
    for appointment, number in rows:
        day = appointment.starts_at.astimezone(calendar.tz).date()
        cells.setdefault((appointment.device_id, day), []).append(Block(appointment, number))
    busy_days = {day for _device, day in cells}
    days = [
        monday + timedelta(days=offset)
        for offset in range(7)
        if offset < 5 or offset in calendar.hours or monday + timedelta(days=offset) in busy_days
    ]
    closed = {day: reason for day in days if (reason := calendar.closed_reason(day))}
    spans = [calendar.hours.get(day.weekday(), DEFAULT_HOURS) for day in days]
    spans += [_local_span(appointment, calendar.tz) for appointment, _number in rows]
    first = min(opens.hour for opens, _closes in spans)
    last = max(_hour_after(closes) for _opens, closes in spans)
    return WeekView(
        days=days,
        devices=devices,
        cells=cells,
        closed=closed,
        opens=f"{first:02d}:00",
        closes=f"{last:02d}:00",
    )


def _local_span(appointment: Any, tz: Any) -> tuple[time, time]:
    """A session's start and end on the clinic's clock; one past midnight ends at 23:59."""
    starts, ends = appointment.starts_at.astimezone(tz), appointment.ends_at.astimezone(tz)
    return starts.time(), ends.time() if ends.date() == starts.date() else time.max


def _hour_after(moment: time) -> int:
    """The first whole hour at or after `moment`."""
    return moment.hour + (moment.minute > 0 or moment.second > 0)


def _empty_cell(calendar: Calendar, device_id: int, starts_at: datetime) -> Cell:
    if calendar.in_maintenance(device_id, starts_at, starts_at + ROW):
        return Cell("unavailable")
    return Cell("free")

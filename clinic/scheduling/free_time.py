"""Free time on a chair's day: the gaps between what is busy, the start nearest a wanted
one in a gap, and how far around the wanted start the planner looks first
(`clinic.scheduling.booking` searches with them; pure, no database)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

STEP = timedelta(minutes=5)
NEAR = timedelta(minutes=30)
REACHES = (NEAR, timedelta(hours=2))
"""How far from the wanted start the planner looks, in turn, before it reads the whole day."""

Span = tuple[datetime, datetime]


def free_gaps(
    busy: Iterable[tuple[datetime, datetime]], opens: datetime, closes: datetime
) -> list[tuple[datetime, datetime]]:
    """The free spans between `opens` and `closes` around the busy ones."""
    gaps = []
    cursor = opens
    for start, end in sorted(busy):
        if start > cursor:
            gaps.append((cursor, min(start, closes)))
        cursor = max(cursor, end)
        if cursor >= closes:
            break
    if cursor < closes:
        gaps.append((cursor, closes))
    return [(a, b) for a, b in gaps if b > a]


def nearest_in_gap(
    gap: tuple[datetime, datetime], wanted: datetime, length: timedelta, forward_only: bool
) -> datetime | None:
    """The start nearest `wanted`, on its 5-minute grid, that fits `length` in `gap`."""
    first = max(gap[0], wanted) if forward_only else gap[0]
    last = gap[1] - length
    if last < first:
        return None
    if wanted < first:
        start = wanted + STEP * -(-(first - wanted) // STEP)
    elif wanted > last:
        start = wanted - STEP * -(-(wanted - last) // STEP)
    else:
        start = wanted
    return start if first <= start <= last else None


def near_span(
    window: Span,
    wanted: datetime,
    length: timedelta,
    *,
    forward_only: bool = False,
    reach: timedelta = NEAR,
) -> Span:
    """The part of the opening `window` that holds every start within `reach` of `wanted`.

    If the best start inside it is found, it is the best of the whole day: any start
    outside is further away. So the planner reads the chairs' appointments of this span
    only, and of a wider one (`REACHES`, then the whole day) only when it is full."""
    start = wanted if forward_only else wanted - reach
    return max(window[0], start), min(window[1], wanted + reach + length)

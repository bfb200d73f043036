"""Scheduling test helpers: chairs, a course ready to book, instants on the clinic clock."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import make_device

NY = ZoneInfo("America/New_York")
MONDAY = date(2026, 3, 2)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """An aware instant at a wall-clock time in the clinic's zone (America/New_York)."""
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


@pytest.fixture
def chairs(app: Any) -> list[Any]:
    return [make_device("Chair A", room="1"), make_device("Chair B", room="2")]

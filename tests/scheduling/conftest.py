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


LA = ZoneInfo("America/Los_Angeles")


def make_la_site(hours: tuple[int, int] = (7, 21)) -> Any:
    """A second site of the group in Los Angeles (three hours behind the clinic's New
    York), open every weekday, without public holidays."""
    from clinic.extensions import db
    from clinic.scheduling import calendar, sites

    site = sites.create_site(
        name="Los Angeles", timezone="America/Los_Angeles", holidays="none", actor_id=None
    )
    for weekday in range(5):
        calendar.set_opening_hours(
            weekday,
            opens_at=time(hours[0]),
            closes_at=time(hours[1]),
            site_id=site.id,
            actor_id=None,
        )
    db.session.commit()
    return site

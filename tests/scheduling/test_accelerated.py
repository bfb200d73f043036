"""Accelerated courses run as SAINT does (CONTRACT 7): each session starts at least 50
minutes after the previous session's stimulation ends, not after its slot's set-up
buffer, so with 08:00-18:00 hours ten accelerated-itbs sessions fit a day, and the
course page's projection agrees with what booking does."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from clinic.courses import numbers
from clinic.extensions import db
from clinic.scheduling import booking_service
from tests.factories import make_course, protocol
from tests.scheduling.conftest import MONDAY, NY


@pytest.fixture
def frozen_at() -> datetime:
    return datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday 07:00 in New York


def test_ten_sessions_a_day_an_hour_apart(chairs: Any, frozen: Any) -> None:
    course = make_course(protocol_code="accelerated-itbs")
    projected = numbers.course_summary(course).projected_end_date
    preview = booking_service.preview_course(course, start_date=MONDAY, local_time=time(8))
    per_day = Counter(s.starts_at.astimezone(NY).date() for s in preview.sessions)
    assert list(per_day.values()) == [10] * 5
    assert max(per_day) == date(2026, 3, 6) == projected
    booked = booking_service.schedule_course(
        course, start_date=MONDAY, local_time=time(8), actor_id=None
    )
    db.session.commit()
    monday = [a for a in booked if a.starts_at.astimezone(NY).date() == MONDAY]
    assert [a.starts_at.astimezone(NY).time() for a in monday] == [time(h) for h in range(8, 18)]
    stimulation = timedelta(seconds=protocol("accelerated-itbs").session_seconds)
    for earlier, later in itertools.pairwise(monday):
        assert later.starts_at - (earlier.starts_at + stimulation) >= timedelta(minutes=50)
        assert later.starts_at >= earlier.ends_at  # never overlapping its own slot

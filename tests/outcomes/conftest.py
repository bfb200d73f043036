"""Scenario helpers for outcomes tests: a course with a prescriber, delivered sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes import services
from tests.factories import make_appointment, make_course, make_device, make_patient

START = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York


def phq9(total: int = 10, item9: int = 0) -> list[int]:
    """Nine answers summing to `total`, with item 9 as given."""
    answers = [0] * 9
    answers[8] = item9
    remaining = total - item9
    for index in range(8):
        answers[index] = min(3, remaining)
        remaining -= answers[index]
    assert remaining == 0, "total too high for item 9"
    return answers


def deliver(
    course: Course, count: int, *, start: datetime = START, first_sequence: int = 1
) -> list:
    """`count` delivered (completed) sessions on consecutive days."""
    device = make_device()
    return [
        make_appointment(
            course,
            start + timedelta(days=first_sequence - 1 + n),
            device=device,
            sequence=first_sequence + n,
            status="completed",
        )
        for n in range(count)
    ]


def course_with_phq9(baseline: int, end: int, **fields: Any) -> Course:
    """A course of three delivered sessions, PHQ-9 `baseline` before and `end` after."""
    course = make_course(make_patient(), planned_sessions=3, **fields)
    with time_machine.travel(START - timedelta(days=1), tick=False):
        services.record_response(
            course.patient_id, "PHQ-9", phq9(baseline), course.id, "staff", None
        )
    deliver(course, 3)
    with time_machine.travel(START + timedelta(days=3), tick=False):
        services.record_response(course.patient_id, "PHQ-9", phq9(end), course.id, "staff", None)
    db.session.commit()
    return course

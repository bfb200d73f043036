"""Scenario helpers for treatment tests: a course with a session at a frozen instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clinic.extensions import db
from clinic.treatments.thresholds import record_motor_threshold
from clinic.treatments.treatment_log import log_treatment
from tests.factories import make_appointment

# Tuesday 10 March 2026, 10:00 in New York (EDT since 8 March).
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def frozen_at() -> datetime:
    return NOW


@pytest.fixture
def session_now(course: Any, frozen: Any) -> Any:
    """An appointment starting now."""
    return make_appointment(course, NOW)


@pytest.fixture
def ready(course: Any, frozen: Any) -> Any:
    """A session starting now on a course with a fresh MT of 50%."""
    add_mt(course, 50, at=NOW - days(1))
    return make_appointment(course, NOW)


def add_mt(
    course: Any, value: int = 50, *, at: datetime | None = None, actor: Any = None, **fields: Any
) -> Any:
    threshold = record_motor_threshold(
        course.id,
        actor.id if actor else None,
        value_pct=value,
        method=fields.pop("method", "visual"),
        measured_at=at,
        **fields,
    )
    db.session.commit()
    return threshold


def log(appointment: Any, actor: Any, **fields: Any) -> Any:
    """Log a session with sensible defaults (a full 10 Hz session at the prescription)."""
    values: dict[str, Any] = {
        "intensity_pct_mt": 120,
        "pulses_delivered": 3000,
        "completed": True,
    }
    values.update(fields)
    result = log_treatment(appointment.id, actor.id if actor else None, **values)
    db.session.commit()
    return result


def body(**fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"intensity_pct_mt": 120, "pulses_delivered": 3000, "completed": True}
    values.update(fields)
    return values


def days(n: float) -> timedelta:
    return timedelta(days=n)

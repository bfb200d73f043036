"""Helpers for the intake tests: valid values, screening answer sets, signal capture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from clinic import events
from clinic.audit.models import AuditEvent
from clinic.patients.screening import SCREENING_ITEMS
from tests.factories import captured, count


def intake(**overrides: Any) -> dict[str, Any]:
    """Values a front desk would type for a new patient."""
    values: dict[str, Any] = {
        "first_name": "Jamie",
        "last_name": "Rivera",
        "date_of_birth": date(1980, 5, 17),
    }
    values.update(overrides)
    return values


def answers(*yes: str) -> dict[str, bool]:
    """A complete screening answer set: every item no, except the codes given."""
    return {item.code: item.code in yes for item in SCREENING_ITEMS}


def audit_count() -> int:
    return count(AuditEvent)


@pytest.fixture
def consent_log() -> Iterator[list[dict[str, Any]]]:
    """What consent_changed was sent with during the test."""
    with captured(events.consent_changed) as calls:
        yield calls


@pytest.fixture
def medication_log() -> Iterator[list[dict[str, Any]]]:
    """What medication_changed was sent with during the test."""
    with captured(events.medication_changed) as calls:
        yield calls

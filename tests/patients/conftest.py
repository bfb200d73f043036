"""Helpers for the intake tests: valid values, screening answer sets, signal capture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from clinic import events
from clinic.audit.models import AuditEvent
from clinic.extensions import db
from clinic.patients.models import Patient
from clinic.patients.screening import SCREENING_ITEMS


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


def count(model: type[Any] = Patient) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def audit_count() -> int:
    return count(AuditEvent)


class SignalLog:
    """Records what a blinker signal was sent with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def consent_log() -> Iterator[SignalLog]:
    log = SignalLog()
    events.consent_changed.connect(log)
    yield log
    events.consent_changed.disconnect(log)


@pytest.fixture
def medication_log() -> Iterator[SignalLog]:
    log = SignalLog()
    events.medication_changed.connect(log)
    yield log
    events.medication_changed.disconnect(log)

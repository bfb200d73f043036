"""Reactions to other features' events: a current medication change asks for a new MT."""

from __future__ import annotations

from typing import Any

from clinic import events
from clinic.patients.models import Patient
from clinic.treatments.thresholds import request_motor_threshold_recheck


def on_medication_changed(
    _sender: Any, *, patient: Patient, actor_id: int | None = None, **_: Any
) -> None:
    """The seizure threshold may have moved: each running course needs a new MT."""
    request_motor_threshold_recheck(patient.id, "A current medication changed", actor_id)


def connect() -> None:
    events.medication_changed.connect(on_medication_changed, weak=False)

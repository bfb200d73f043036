"""Stimulation protocols: the published presets and the clinic's own.

A protocol's stimulation parameters are fixed once a course uses it (changing them would
rewrite past prescriptions); a preset's are fixed always.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.models import Course, Protocol, SchedulePattern
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db

MAX_PLANNED_SESSIONS = 100
MAX_PCT_MT = 150

# Protocol fields that define the stimulation itself: fixed on presets, and on clinic
# protocols once a course uses them (changing them would rewrite past prescriptions).
STIMULATION_FIELDS = (
    "frequency_hz",
    "pulses_per_train",
    "train_seconds",
    "inter_train_seconds",
    "trains",
    "intensity_pct_mt",
    "pattern",
    "sessions_per_day",
    "min_gap_minutes",
)
# What a clinic may still change on a preset: its chair time and whether it is offered.
PRESET_EDITABLE_FIELDS = ("setup_buffer_minutes", "active")
PROTOCOL_FIELDS = (
    "code",
    "name",
    "indication",
    "target",
    "frequency_note",
    "reference",
    "default_sessions",
    "setup_buffer_minutes",
    "active",
    *STIMULATION_FIELDS,
)
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
MAX_SESSION_SECONDS = 2 * 3600

_INT_RANGES: dict[str, tuple[int, int]] = {
    "pulses_per_train": (1, 10_000),
    "trains": (1, 1_000),
    "intensity_pct_mt": (1, MAX_PCT_MT),
    "default_sessions": (1, MAX_PLANNED_SESSIONS),
    "sessions_per_day": (1, 10),
    "min_gap_minutes": (0, 240),
    "setup_buffer_minutes": (0, 60),
}
_FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {
    # name: (low, high, low is exclusive)
    "frequency_hz": (0.0, 100.0, True),
    "train_seconds": (0.0, 3600.0, True),
    "inter_train_seconds": (0.0, 600.0, False),
}
_TEXT_LIMITS = {
    "name": 120,
    "indication": 120,
    "target": 120,
    "frequency_note": 120,
    "reference": 200,
}
_REQUIRED_TEXT = ("name", "indication", "target")


def list_protocols(*, include_inactive: bool = False) -> Sequence[Protocol]:
    """Presets first, then the clinic's own, by name."""
    query = select(Protocol).order_by(Protocol.is_preset.desc(), Protocol.name)
    if not include_inactive:
        query = query.where(Protocol.active.is_(True))
    return db.session.scalars(query).all()


def get_protocol(code: str) -> Protocol:
    protocol = db.session.scalar(select(Protocol).where(Protocol.code == code))
    if protocol is None:
        raise NotFound(f"No protocol {code!r}.")
    return protocol


def _check_protocol_values(values: dict[str, Any]) -> dict[str, list[str]]:
    """Field errors for a complete set of protocol values (after defaults and changes)."""
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    code = values.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        fail("code", "2-40 lower-case letters, digits and dashes, starting with a letter or digit.")
    for name, limit in _TEXT_LIMITS.items():
        text = values.get(name)
        if text is None:
            if name in _REQUIRED_TEXT:
                fail(name, "Required.")
        elif not isinstance(text, str) or len(text) > limit:
            fail(name, f"At most {limit} characters.")
        elif name in _REQUIRED_TEXT and not text.strip():
            fail(name, "Required.")
    for name, (low, high) in _INT_RANGES.items():
        number = values.get(name)
        if isinstance(number, bool) or not isinstance(number, int):
            fail(name, "A whole number is required.")
        elif not low <= number <= high:
            fail(name, f"Between {low} and {high}.")
    for name, (floor, ceiling, exclusive) in _FLOAT_RANGES.items():
        amount = values.get(name)
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            fail(name, "A number is required.")
        elif amount > ceiling or amount < floor or (exclusive and amount == floor):
            fail(name, f"{'Above' if exclusive else 'At least'} {floor:g} and at most {ceiling:g}.")
    if values.get("pattern") not in tuple(SchedulePattern):
        fail("pattern", f"One of {', '.join(SchedulePattern)}.")
    elif values["pattern"] != SchedulePattern.ACCELERATED and values.get("sessions_per_day") != 1:
        fail("sessions_per_day", "Only an accelerated protocol has more than one a day.")
    total = values.get("total_pulses")
    if errors.keys().isdisjoint({"trains", "pulses_per_train"}):
        computed = values["trains"] * values["pulses_per_train"]
        if total is not None and total != computed:
            fail(
                "total_pulses",
                f"{values['trains']} trains x {values['pulses_per_train']} pulses is "
                f"{computed}, not {total}.",
            )
        if errors.keys().isdisjoint({"train_seconds", "inter_train_seconds"}):
            seconds = (
                values["trains"] * values["train_seconds"]
                + (values["trains"] - 1) * values["inter_train_seconds"]
            )
            if seconds > MAX_SESSION_SECONDS:
                fail("trains", f"The session would last {seconds / 60:.0f} minutes; at most 120.")
    return errors


def _protocol_values(protocol: Protocol) -> dict[str, Any]:
    return {name: getattr(protocol, name) for name in PROTOCOL_FIELDS}


def create_protocol(values: dict[str, Any], *, actor_id: int | None) -> Protocol:
    """A clinic-defined protocol; the six published presets come from the migrations."""
    merged: dict[str, Any] = {
        "setup_buffer_minutes": 10,
        "sessions_per_day": 1,
        "min_gap_minutes": 0,
        "inter_train_seconds": 0.0,
        "active": True,
        "frequency_note": None,
        "reference": None,
        "total_pulses": None,
        **values,
    }
    unknown = set(merged) - set(PROTOCOL_FIELDS) - {"total_pulses"}
    if unknown:
        raise Invalid("Unknown fields.", fields={name: ["Unknown field."] for name in unknown})
    errors = _check_protocol_values(merged)
    if errors:
        raise Invalid("The protocol has invalid values.", fields=errors)
    if db.session.scalar(select(Protocol.id).where(Protocol.code == merged["code"])):
        raise Conflict(
            f"A protocol with code {merged['code']!r} exists.",
            code="protocol_exists",
            fields={"code": ["Already used."]},
        )
    merged.pop("total_pulses")
    protocol = Protocol(is_preset=False, **merged)
    db.session.add(protocol)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "protocol", protocol.id, detail={"code": protocol.code})
    return protocol


def _protocol_in_use(protocol: Protocol) -> bool:
    return (
        db.session.scalar(select(Course.id).where(Course.protocol_id == protocol.id).limit(1))
        is not None
    )


def update_protocol(
    protocol: Protocol, changes: dict[str, Any], *, actor_id: int | None
) -> Protocol:
    """Edit a protocol. Presets keep their published parameters; so does any protocol a
    course was prescribed with (its name, notes, buffer and availability may change)."""
    unknown = set(changes) - set(PROTOCOL_FIELDS) - {"total_pulses"}
    if unknown:
        raise Invalid("Unknown fields.", fields={name: ["Unknown field."] for name in unknown})
    current = _protocol_values(protocol)
    altered = {
        name for name, value in changes.items() if name == "total_pulses" or current[name] != value
    }
    if "code" in altered:
        raise Invalid("A protocol's code never changes.", fields={"code": ["Read-only."]})
    if protocol.is_preset:
        fixed = sorted(altered - set(PRESET_EDITABLE_FIELDS) - {"total_pulses"})
        if fixed:
            raise Conflict(
                "A published preset is read-only; only its set-up buffer and availability "
                "change. Create a clinic protocol for other parameters.",
                code="preset_read_only",
                fields={name: ["Read-only on a preset."] for name in fixed},
            )
    else:
        fixed = sorted(altered & set(STIMULATION_FIELDS))
        if fixed and _protocol_in_use(protocol):
            raise Conflict(
                "Courses were prescribed with this protocol, so its stimulation parameters "
                "are fixed. Create a new protocol instead.",
                code="protocol_in_use",
                fields={name: ["Fixed once a course uses the protocol."] for name in fixed},
            )
    merged = {**current, "total_pulses": None, **changes}
    errors = _check_protocol_values(merged)
    if errors:
        raise Invalid("The protocol has invalid values.", fields=errors)
    for name in altered - {"total_pulses"}:
        setattr(protocol, name, merged[name])
    db.session.flush()
    if altered - {"total_pulses"}:
        record(
            actor_id,
            AuditAction.UPDATE,
            "protocol",
            protocol.id,
            detail={"fields": sorted(altered - {"total_pulses"})},
        )
    return protocol

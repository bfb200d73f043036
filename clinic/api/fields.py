"""Marshmallow fields the API shares, typed in the OpenAPI document (see `init_api`)."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import marshmallow as ma

HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class LocalTime(ma.fields.Field):
    """A wall-clock time of day as `HH:MM` (24-hour), in the clinic's or patient's zone."""

    def _serialize(self, value: time | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> time:
        match = HH_MM.match(value) if isinstance(value, str) else None
        if match is None:
            raise ma.ValidationError("A time of day as HH:MM (24-hour).")
        return time(int(match[1]), int(match[2]))


def field_properties(self: Any, field: ma.fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: what the document says about our own fields."""
    if isinstance(field, LocalTime):
        return {"type": "string", "pattern": HH_MM.pattern, "example": "09:00"}
    return {}

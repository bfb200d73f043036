"""Field types of the scheduling API: ids, instants and dates in range, `HH:MM` times,
and the optional `site_id` every calendar endpoint takes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any

import marshmallow as ma

from clinic.api.schemas import MAX_ID

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class LocalTime(ma.fields.Field):
    """A wall-clock time of day as `HH:MM` (24-hour)."""

    def _serialize(self, value: time | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> time:
        match = HH_MM.match(value) if isinstance(value, str) else None
        if match is None:
            raise ma.ValidationError("A time of day as HH:MM (24-hour).")
        return time(int(match[1]), int(match[2]))


def id_field(**kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


def instant_field(**kwargs: Any) -> ma.fields.AwareDateTime:
    return ma.fields.AwareDateTime(
        validate=ma.validate.Range(min=EARLIEST, max=LATEST, error="Between 2000 and 2100."),
        **kwargs,
    )


def date_field(**kwargs: Any) -> ma.fields.Date:
    return ma.fields.Date(
        validate=ma.validate.Range(
            min=EARLIEST.date(), max=LATEST.date(), error="Between 2000 and 2100."
        ),
        **kwargs,
    )


def site_id_field(
    description: str = "The site (default: the first site).", **kwargs: Any
) -> ma.fields.Integer:
    return ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=MAX_ID),
        metadata={"description": description},
        **kwargs,
    )

"""Field types of the scheduling API: ids, instants and dates in range, and the optional
`site_id` every calendar endpoint takes (`HH:MM` times are `clinic.api.fields.LocalTime`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma

from clinic.api.schemas import MAX_ID

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


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

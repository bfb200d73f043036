"""Marshmallow pieces every feature's API repeats: the `{"items": [...]}` list answer and
the query parameters that filter and page a list.

Kept here so a list answers the same shape everywhere and a filter on an id or a `limit`
refuses the same values (and says so with the same message) on every endpoint.
"""

from __future__ import annotations

import marshmallow as ma

MAX_ID = 2**31 - 1
"""The database's integer: a larger id cannot exist, so a filter on one is refused."""


def list_schema(item_schema: type[ma.Schema], name: str | None = None) -> type[ma.Schema]:
    """The contract's list answer `{"items": [...]}` of `item_schema`.

    Named `<Item>ListSchema` (or `name`) so the OpenAPI component keeps a readable name.
    """
    name = name or item_schema.__name__.removesuffix("Schema") + "ListSchema"
    return ma.Schema.from_dict({"items": ma.fields.List(ma.fields.Nested(item_schema))}, name=name)


def id_filter() -> ma.fields.Integer:
    """A query parameter naming one row by id (a numeric string is fine in a query)."""
    return ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID))


def limit_param(default: int = 200, maximum: int = 1000) -> ma.fields.Integer:
    """How many rows a list answers at most."""
    return ma.fields.Integer(load_default=default, validate=ma.validate.Range(min=1, max=maximum))

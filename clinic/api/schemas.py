"""Marshmallow pieces every feature's API repeats: the `{"items": [...]}` list answer and
the query parameters that filter and page a list.

Kept here so a list answers the same shape everywhere and a filter on an id or a `limit`
refuses the same values (and says so with the same message) on every endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import marshmallow as ma

MAX_ID = 2**31 - 1
"""The database's integer: a larger id cannot exist, so a filter on one is refused."""


def list_schema(item_schema: type[ma.Schema], name: str | None = None) -> type[ma.Schema]:
    """The contract's list answer `{"items": [...]}` of `item_schema`.

    Named `<Item>ListSchema` (or `name`) so the OpenAPI component keeps a readable name.
    """
    name = name or item_schema.__name__.removesuffix("Schema") + "ListSchema"
    return ma.Schema.from_dict({"items": ma.fields.List(ma.fields.Nested(item_schema))}, name=name)


def paged_list_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A list answer that pages by keyset (`clinic.paging`): `items` and `next_cursor`."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "next_cursor": ma.fields.String(
                allow_none=True,
                metadata={"description": "Pass as `cursor` for the next page; null at the end."},
            ),
        },
        name=name,
    )


def cursor_param() -> ma.fields.String:
    """The `next_cursor` a paged list answered, asking for the page after it."""
    return ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "The `next_cursor` of the previous page."},
    )


def offset_param(maximum: int = MAX_ID) -> ma.fields.Integer:
    """Rows to skip: kept for older clients of a list that now pages by `cursor`."""
    return ma.fields.Integer(
        load_default=0,
        validate=ma.validate.Range(min=0, max=maximum),
        metadata={"description": "Deprecated: slow deep in a long history; use `cursor`."},
    )


def id_filter() -> ma.fields.Integer:
    """A query parameter naming one row by id (a numeric string is fine in a query)."""
    return ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID))


def limit_param(default: int = 200, maximum: int = 1000) -> ma.fields.Integer:
    """How many rows a list answers at most."""
    return ma.fields.Integer(load_default=default, validate=ma.validate.Range(min=1, max=maximum))


def plain_dumper(schema: type[ma.Schema]) -> Callable[[Any], dict[str, Any]]:
    """`schema().dump` for one object, without marshmallow's machinery per field: a list
    of hundreds of rows (the day's appointments) spent more time there than in its query.
    Each field is read and converted as marshmallow does (a test compares them); only
    flat schemas of integers, strings, booleans and ISO date-times are accepted."""
    fields: list[tuple[str, str, Callable[[Any], Any]]] = []
    for name, field in schema().dump_fields.items():
        convert: Callable[[Any], Any]
        if isinstance(field, ma.fields.DateTime) and field.format in (None, "iso"):
            convert = datetime.isoformat
        elif isinstance(field, ma.fields.Boolean):
            convert = bool
        elif type(field) is ma.fields.Integer and not field.as_string:
            convert = int
        elif type(field) is ma.fields.String:
            convert = str
        else:
            raise TypeError(f"{schema.__name__}.{name}: no plain dump for {type(field).__name__}")
        fields.append((field.data_key or name, field.attribute or name, convert))

    def dump(item: Any) -> dict[str, Any]:
        answer = {}
        for key, attribute, convert in fields:
            value = getattr(item, attribute)
            answer[key] = None if value is None else convert(value)
        return answer

    return dump

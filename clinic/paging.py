"""Keyset pages for lists that grow with history (the audit trail, the outbox, the
acknowledged alerts).

A list ordered newest first by an instant, then by id, pages by remembering where the
previous page ended: the next page starts strictly after that row. Reading page 10,000
costs what page 1 costs, however long the history, where OFFSET reads and throws away
every row before it. The id breaks ties, so rows written in the same instant still
page exactly once each.

The next page is asked for as a row value, `(at, id) < (cursor's at, cursor's id)`:
both databases seek an index on the instant to it. The same condition written as
`at < x OR (at = x AND id < y)` reads the index from the newest row down to the cursor,
so page N costs N pages (150,000 events deep in the audit trail: 20.5 ms on PostgreSQL
and 16.5 ms on SQLite, against 0.64 and 0.34 ms).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import literal, tuple_
from sqlalchemy.sql.elements import ColumnElement
from wtforms import HiddenField
from wtforms.validators import ValidationError

from clinic.errors import Invalid

Row = TypeVar("Row")


class Cursor(NamedTuple):
    """Where a page ended: the instant and id of its last (oldest) row."""

    at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor a previous page answered; anything else is a clear 422."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, _, row_id = raw.partition("|")
            cursor = cls(datetime.fromisoformat(at), int(row_id))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            cursor = None
        if cursor is None or cursor.at.tzinfo is None or cursor.id < 1:
            raise Invalid(
                "That page cursor is not one this list gave.",
                fields={"cursor": ["Use the next_cursor of the previous page."]},
            )
        return cursor

    def older(self, at: Any, row_id: Any) -> ColumnElement[bool]:
        """The rows after this cursor in newest-first order, for a query's WHERE."""
        # Bound with the columns' own types, so the instant is stored as they store it.
        return tuple_(at, row_id) < tuple_(literal(self.at, at.type), literal(self.id, row_id.type))


def page_after(text: str | None) -> Cursor | None:
    """The page a request asks for: after the cursor it carries, or the first (None)."""
    return Cursor.decode(text) if text else None


def split_page(found: Sequence[Row], limit: int, instant: Any) -> tuple[list[Row], str | None]:
    """A page of `limit` rows out of the `limit + 1` read, and the cursor of the next page
    (None at the end): the extra row only tells whether there is one. `instant` is the
    column the list is ordered by, newest first, before the id."""
    shown = list(found[:limit])
    if len(found) <= limit:
        return shown, None
    last: Any = shown[-1]
    return shown, Cursor(getattr(last, instant.key), last.id).encode()


class CursorField(HiddenField):
    """A page's cursor carried by a filter form: a forged one is the form's clear error."""

    def pre_validate(self, form: Any) -> None:
        if self.data:
            try:
                Cursor.decode(self.data)
            except Invalid as refused:
                raise ValidationError(refused.message) from None

    def cursor(self) -> Cursor | None:
        """The page asked for, once the form is valid (None: the first page)."""
        return page_after(self.data)

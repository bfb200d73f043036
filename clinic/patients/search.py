"""Finding patients by a fragment of a name, an MRN or a phone number.

A fragment may sit anywhere in a name ("riv" finds Rivera), which an ordinary index cannot
narrow: at a group's 100,000 patients each search read every patient. Migration 0020
indexes the trigrams of what search compares: PostgreSQL with pg_trgm's GIN indexes over
the very expressions below (so its planner uses them by itself), SQLite with an FTS5 table
of trigrams (`SEARCH_TABLE`) that triggers keep in step with `patients` and that search
asks first. The index only narrows: each word is still compared with the row itself, so
the answer is the same with or without it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import Select, and_, column, func, literal_column, or_, select, table, true
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.extensions import db
from clinic.patients import validation
from clinic.patients.models import Patient

SEARCH_LIMIT = 50
SEARCH_LIMIT_MAX = 200
SEARCH_WORDS_MAX = 6
# A query written like a phone number ("(212) 555-0123", "+1 212 555 0123") searches phones.
PHONE_LIKE = re.compile(r"[\d\s()+.\-]+")
PHONE_SEARCH_DIGITS = 7
# The shortest fragment a trigram index narrows.
TRIGRAM = 3

# What a word must be part of: the case-folded names (`name_key`) and the MRN. The
# separator is written inline, not bound, so PostgreSQL sees its index's own expression.
WORDS = Patient.name_key + literal_column("' '") + func.lower(Patient.mrn)
PHONE = func.coalesce(Patient.phone, literal_column("''"))

SEARCH_TABLE = "patients_search"
"""SQLite's FTS5 table (and the prefix of its own tables): rowid is the patient's id."""
SEARCH_INDEXES = ("ix_patients_search_words", "ix_patients_search_phone")
"""PostgreSQL's trigram indexes over WORDS and PHONE."""
_trigrams = table(SEARCH_TABLE, column("rowid"), column("words"), column("phone"))


def search_patients(
    query: str | None, *, limit: int = SEARCH_LIMIT, actor_id: int | None = None
) -> list[Patient]:
    """Patients whose names or MRN contain every word of `query`, whatever its case or
    accents' encoding, or whose phone has the digits of a query written like a phone.

    "riv jam" finds Jamie Rivera; "0042" finds MRN 10004217; "212 555 0123" finds
    +12125550123. Bounded by `limit`; the search is audited (with its count, not its text).
    """
    text = validation.search_text(query)
    limit = max(1, min(limit, SEARCH_LIMIT_MAX))
    digits = re.sub(r"\D", "", text)
    if len(digits) >= PHONE_SEARCH_DIGITS and PHONE_LIKE.fullmatch(text.strip()):
        # Phones are stored in E.164: the last ten digits are the number without its
        # country code. An MRN is all digits too.
        statement = _matching(
            or_(PHONE.like(f"%{digits[-10:]}%"), WORDS.like(f"%{digits}%")),
            or_(
                Patient.id.in_(_indexed("phone", digits[-10:])),
                Patient.id.in_(_indexed("words", digits)),
            ),
        )
    else:
        words = unicodedata.normalize("NFC", text).casefold().replace(",", " ").split()
        words = words[:SEARCH_WORDS_MAX]
        # Only a fragment of three plain characters or more has trigrams to look up.
        indexed = [word for word in words if len(word) >= TRIGRAM and _literal(word) == word]
        statement = _matching(
            and_(true(), *(WORDS.like(f"%{_literal(word)}%", escape="\\") for word in words)),
            *([Patient.id.in_(_indexed("words", *indexed))] if indexed else []),
        )
    found = list(
        db.session.scalars(
            statement.order_by(Patient.last_name, Patient.first_name, Patient.id).limit(limit)
        )
    )
    record(actor_id, AuditAction.SEARCH, "patient", None, detail={"results": len(found)})
    return found


def _matching(condition: ColumnElement[bool], *narrowed: ColumnElement[bool]) -> Select[Patient]:
    """Patients meeting `condition`; on SQLite, first narrowed to the trigram table's
    candidates (PostgreSQL's planner finds its indexes in `condition` itself)."""
    statement = select(Patient).options(selectinload(Patient.diagnoses)).where(condition)
    if db.session.get_bind().dialect.name == "sqlite":
        statement = statement.where(*narrowed)
    return statement


def _indexed(column_name: str, *fragments: str) -> Select[Any]:
    """The rowids whose `column_name` holds every one of `fragments`, read from SQLite's
    FTS5 trigrams."""
    return select(_trigrams.c.rowid).where(
        *(_trigrams.c[column_name].like(f"%{fragment}%") for fragment in fragments)
    )


def _literal(word: str) -> str:
    """`word` for a LIKE pattern, its wildcards and escape character taken literally."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

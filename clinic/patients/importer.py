"""Importing patients from a CSV file (`flask patients import FILE.csv`).

Rows go through the API's input schema (text -> types) and `create_patient`
(the rules), so an imported patient is held to exactly the same checks as one typed in.
Each row runs in its own savepoint: a bad row leaves nothing behind.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import IO

import marshmallow as ma
from sqlalchemy.exc import SQLAlchemyError

from clinic.errors import DomainError, Invalid, flatten_messages
from clinic.extensions import db
from clinic.patients import icd10
from clinic.patients.intake import PATIENT_FIELDS, create_patient, find_duplicate
from clinic.patients.models import name_key
from clinic.patients.schemas import PatientCreateSchema

COLUMNS = PATIENT_FIELDS
REQUIRED_COLUMNS = ("first_name", "last_name", "date_of_birth")
FIRST_DATA_ROW = 2  # row 1 is the header, as a spreadsheet numbers them
MAX_CELL = 10_000

DuplicateKey = tuple[str, date]


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def open_rows(stream: IO[str]) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """(numbered rows, problems with the header). Unknown or missing columns stop the import."""
    reader = csv.DictReader(stream)
    header = [name.strip() for name in reader.fieldnames or []]
    problems = [f"unknown column {name!r}" for name in header if name not in COLUMNS]
    problems += [f"missing column {name!r}" for name in REQUIRED_COLUMNS if name not in header]
    if problems:
        return [], problems
    reader.fieldnames = header
    rows = [(number, row) for number, row in enumerate(reader, start=FIRST_DATA_ROW)]
    return rows, []


def _values(row: Mapping[str, str | None]) -> dict[str, object]:
    """Empty cells are absent values; `diagnoses` is one cell of semicolon-separated codes."""
    values: dict[str, object] = {}
    for name, cell in row.items():
        if name is None or cell is None or not cell.strip():
            continue  # cells beyond the header, or empty ones
        if len(cell) > MAX_CELL:
            raise Invalid("Cell too long.", fields={name: [f"At most {MAX_CELL} characters."]})
        values[name] = icd10.split_codes(cell) if name == "diagnoses" else cell.strip()
    try:
        return PatientCreateSchema().load(values)
    except ma.ValidationError as exc:
        raise Invalid(
            "The row has invalid fields.", fields=flatten_messages(exc.messages)
        ) from None


def import_rows(
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    actor_id: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Import each row in its own savepoint; `progress(1)` is called after each row."""
    report = ImportReport()
    seen: dict[DuplicateKey, int] = {}
    for number, row in rows:
        try:
            _import_row(number, row, seen, report, actor_id)
        except DomainError as exc:
            report.failed += 1
            fields = exc.fields or {"_row": [exc.message]}
            report.errors.extend(
                RowError(number, name, message)
                for name, messages in fields.items()
                for message in messages
            )
        except SQLAlchemyError as exc:
            report.failed += 1
            report.errors.append(RowError(number, "_row", f"refused by the database: {exc}"))
        if progress is not None:
            progress(1)
    return report


def _import_row(
    number: int,
    row: dict[str, str],
    seen: dict[DuplicateKey, int],
    report: ImportReport,
    actor_id: int | None,
) -> None:
    values = _values(row)
    first, last, birth = values["first_name"], values["last_name"], values["date_of_birth"]
    assert isinstance(first, str) and isinstance(last, str) and isinstance(birth, date)
    # NFC and case folded: "José" typed with a combining accent is the same José.
    key = (name_key(first, last), birth)
    existing = find_duplicate(first, last, birth)
    if key in seen or existing is not None:
        where = (
            f"row {seen[key]} of this file"
            if key in seen or existing is None
            else f"patient MRN {existing.mrn}"
        )
        report.duplicates += 1
        report.errors.append(
            RowError(
                number, "first_name,last_name,date_of_birth", f"duplicate of {where}; not imported"
            )
        )
        return
    with db.session.begin_nested():
        # Duplicates were looked for just above, in the file and the database.
        create_patient(values, actor_id=actor_id, source="import", allow_duplicate=True)
    seen[key] = number
    report.imported += 1

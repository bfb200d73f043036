"""Each CHECK built from a StrEnum (clinic.db.one_of) holds in the migrated database
exactly that enum's values: every member is accepted, anything else refused. The models
build their CHECKs from the enums, but the database got its CHECKs from hand-written
migrations, so this is what keeps the two lists from drifting apart.

Rows come from the demo loader plus the two kinds it never makes (a role policy, a
patient's answer to a reminder); each value is written with an UPDATE inside a savepoint
that is rolled back.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import CheckConstraint, Table, select, update
from sqlalchemy.exc import IntegrityError

import clinic.models  # noqa: F401  (the whole schema)
from clinic.auth.models import RolePolicy
from clinic.billing.models import ClaimExport
from clinic.demo import load
from clinic.documents.models import ConsentSignature, Document
from clinic.extensions import db
from clinic.permissions import Role
from clinic.reminders.models import AnswerKind, AppointmentResponse
from clinic.scheduling.models import Appointment

ONE_OF = re.compile(r"^(\w+) IN \(((?:'[^']*'(?:, )?)+)\)$")
NOT_A_VALUE = "nope"  # short: PostgreSQL refuses an over-long value before any CHECK


def enum_checks() -> list[tuple[Table, str, str, list[str]]]:
    """(table, column, constraint name, allowed values) for every one_of CHECK."""
    found = []
    for table in db.metadata.sorted_tables:
        for constraint in table.constraints:
            if not isinstance(constraint, CheckConstraint):
                continue
            match = ONE_OF.match(str(constraint.sqltext))
            if match:
                values = re.findall(r"'([^']*)'", match.group(2))
                name = str(constraint.name)  # already named by the convention: ck_<table>_...
                found.append((table, match.group(1), name, values))
    return found


def test_the_schema_has_enum_checks() -> None:
    assert len(enum_checks()) >= 16


def _write(table: Table, column: str, key: Any, value: str) -> IntegrityError | None:
    """Set one row's column to `value` in a savepoint, always rolled back; the error if any."""
    savepoint = db.session.begin_nested()
    try:
        db.session.execute(
            update(table)
            .where(table.primary_key.columns.values()[0] == key)
            .values({column: value})
        )
        db.session.flush()
    except IntegrityError as error:
        return error
    finally:
        savepoint.rollback()
    return None


def a_row_in_every_table() -> None:
    load()
    appointment = db.session.scalars(select(Appointment).limit(1)).one()
    db.session.add(RolePolicy(role=Role.CLINICIAN, require_totp=True))
    document = Document(
        patient_id=appointment.patient_id,
        kind="records",
        filename="a.pdf",
        content_type="application/pdf",
        size=1,
        sha256="0" * 64,
        storage_key="enum-test/a.pdf",
    )
    db.session.add(document)
    db.session.flush()
    db.session.add(
        ConsentSignature(
            patient_id=appointment.patient_id,
            version="2026-1",
            signer_name="A Patient",
            method="typed",
            document_id=document.id,
        )
    )
    db.session.add(
        ClaimExport(
            format="csv",
            period_start=date(2026, 3, 1),
            period_end=date(2026, 3, 31),
            line_count=0,
            control_number=1,
        )
    )
    db.session.add(
        AppointmentResponse(
            appointment_id=appointment.id,
            patient_id=appointment.patient_id,
            revision=1,
            appointment_starts_at=appointment.starts_at,
            kind=AnswerKind.CONFIRM,
        )
    )
    db.session.commit()


def test_every_enum_check_accepts_its_values_and_refuses_others(app: Any) -> None:
    a_row_in_every_table()
    untested = []
    for table, column, name, values in enum_checks():
        key = db.session.scalar(select(table.primary_key.columns.values()[0]).limit(1))
        if key is None:
            untested.append(table.name)
            continue
        for value in values:
            error = _write(table, column, key, value)
            # Another rule may refuse a particular value on this row (an overlap, a unique
            # index); the CHECK itself must never be the one refusing.
            assert error is None or name not in str(error.orig), f"{name} refuses {value!r}"
        error = _write(table, column, key, NOT_A_VALUE)
        assert error is not None and name in str(error.orig), f"{name} accepts {NOT_A_VALUE!r}"
    assert not untested, f"no row to test in: {untested}"


@pytest.mark.parametrize("value", ["", "Completed", " completed"])
def test_a_near_miss_is_refused_too(app: Any, value: str) -> None:
    """Case and spacing matter: the database compares exact strings, like the enum."""
    load()
    db.session.commit()
    table, column, name, _ = next(c for c in enum_checks() if c[0].name == "appointments")
    key = db.session.scalar(select(table.primary_key.columns.values()[0]).limit(1))
    error = _write(table, column, key, value)
    assert error is not None and name in str(error.orig)

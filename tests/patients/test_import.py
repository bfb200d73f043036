"""`flask patients import FILE.csv`: good rows in, bad rows reported, duplicates never twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clinic.extensions import db
from clinic.patients.intake import create_patient
from clinic.patients.models import ConsentEvent, Diagnosis, Patient
from tests.factories import count
from tests.patients.conftest import intake

HEADER = (
    "first_name,last_name,date_of_birth,sex,email,phone,preferred_channel,sms_consent,"
    "email_consent,timezone,diagnoses,referring_provider,pain_sites,pain_duration_months\n"
)
GOOD = (
    HEADER + "Jamie,Rivera,1980-05-17,female,jamie@example.org,212-555-0123,sms,yes,no,"
    "America/Chicago,F33.1;G89.29,Dr. Lee,lower back,18\n"
    + "Alex,Stone,1975-01-02,,,,none,,,,f32.1,,,\n"
    + '"Zoë","O\'Brien",1990-12-31,F,zoe@example.org,,email,,true,,,,"neck, shoulders",\n'
)


def run_import(runner: Any, tmp_path: Path, content: str) -> Any:
    path = tmp_path / "patients.csv"
    path.write_text(content, encoding="utf-8")
    return runner.invoke(args=["patients", "import", str(path)])


def test_good_file_imports_every_row(runner: Any, tmp_path: Path) -> None:
    result = run_import(runner, tmp_path, GOOD)
    assert result.exit_code == 0, result.output
    assert "Importing patients" in result.output  # the progress bar's label
    assert "3 rows: 3 imported, 0 duplicates, 0 failed." in result.output
    jamie = db.session.scalars(select(Patient).where(Patient.last_name == "Rivera")).one()
    assert jamie.phone == "+12125550123" and jamie.sms_consent is True
    assert jamie.pain_duration_months == 18 and jamie.timezone == "America/Chicago"
    assert [d.code for d in jamie.diagnoses] == ["F33.1", "G89.29"]
    zoe = db.session.scalars(select(Patient).where(Patient.first_name == "Zoë")).one()
    assert zoe.email_consent is True and zoe.sex == "female" and zoe.pain_sites == "neck, shoulders"
    sources = db.session.scalars(select(ConsentEvent.source)).all()
    assert sources == ["import", "import"]
    assert len({p.mrn for p in db.session.scalars(select(Patient))}) == 3


def test_bad_rows_are_reported_by_row_and_field_and_leave_nothing(
    runner: Any, tmp_path: Path
) -> None:
    content = (
        HEADER
        + "Jamie,Rivera,1980-05-17,,,,,,,,F33.1,,,\n"
        + "Bad,Phone,1980-05-17,,,12,,,,,F33.1;G89.29,,,\n"
        + ",Nameless,17/05/1980,,,,,,,,,,,\n"
        + "Bad,Codes,1981-01-01,,,,,maybe,,,depression,,,\n"
        + "Alex,Stone,1975-01-02,,,,,,,,,,,\n"
    )
    result = run_import(runner, tmp_path, content)
    assert result.exit_code == 1
    output = result.output
    assert "row 3: phone: Not a valid phone number" in output
    assert "row 4: first_name:" in output and "row 4: date_of_birth:" in output
    assert "row 5: sms_consent:" in output
    assert "5 rows: 2 imported, 0 duplicates, 3 failed." in output
    assert sorted(db.session.scalars(select(Patient.last_name))) == ["Rivera", "Stone"]
    assert count(Diagnosis) == 1  # the bad row's diagnoses were rolled back with it


def test_row_failing_in_the_service_leaves_no_half_patient(runner: Any, tmp_path: Path) -> None:
    content = HEADER + "Jamie,Rivera,1980-05-17,,,,,,,,F33.1;NOTACODE,,,\n"
    result = run_import(runner, tmp_path, content)
    assert result.exit_code == 1
    assert "row 2: diagnoses: Not an ICD-10-CM code" in result.output
    assert (count(Patient), count(Diagnosis)) == (0, 0)


def test_duplicates_in_file_and_in_database_are_reported_not_created(
    runner: Any, tmp_path: Path
) -> None:
    existing = create_patient(
        intake(first_name="Alex", last_name="Stone", date_of_birth=date(1975, 1, 2)), actor_id=None
    )
    db.session.commit()
    content = (
        HEADER
        + "Jamie,Rivera,1980-05-17,,,,,,,,,,,\n"
        + "JAMIE,rivera,1980-05-17,,,,,,,,,,,\n"
        + "alex,STONE,1975-01-02,,,,,,,,,,,\n"
        + "Jamie,Rivera,1980-05-18,,,,,,,,,,,\n"
    )
    result = run_import(runner, tmp_path, content)
    assert result.exit_code == 1
    assert "row 3: first_name,last_name,date_of_birth: duplicate of row 2 of this file" in (
        result.output
    )
    assert (
        f"row 4: first_name,last_name,date_of_birth: duplicate of patient MRN {existing.mrn}"
        in (result.output)
    )
    assert "4 rows: 2 imported, 2 duplicates, 0 failed." in result.output
    assert count(Patient) == 3
    again = run_import(runner, tmp_path, content)
    assert "4 rows: 0 imported, 4 duplicates, 0 failed." in again.output
    assert count(Patient) == 3


def test_unknown_or_missing_columns_stop_before_importing(runner: Any, tmp_path: Path) -> None:
    result = run_import(runner, tmp_path, "first_name,surname,date_of_birth\nA,B,1980-01-01\n")
    assert result.exit_code == 1
    assert "unknown column 'surname'" in result.output
    assert "missing column 'last_name'" in result.output
    assert count(Patient) == 0


def test_unreadable_file_is_a_clear_error(runner: Any, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + "Jos\xe9,P\xe9rez,1980-01-01\n".encode("latin-1"))
    result = runner.invoke(args=["patients", "import", str(path)])
    assert result.exit_code == 1 and "cannot read" in result.output
    assert count(Patient) == 0


def test_progress_bar_counts_every_row(tmp_path: Path, app: Any) -> None:
    from clinic.patients import importer

    steps: list[int] = []
    rows = [
        (n + 2, {"first_name": f"P{n}", "last_name": "X", "date_of_birth": "1980-01-01"})
        for n in range(5)
    ]
    report = importer.import_rows(rows, progress=steps.append)
    assert steps == [1] * 5 and report.imported == 5 and report.ok

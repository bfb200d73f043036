"""Registering the same person twice (issue 11, CONTRACT 6 `possible_duplicate`): the API
refuses with the matches, the page offers the existing record first, the CSV import
catches names that differ only in Unicode form, and two identical requests at once
create one patient."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clinic.extensions import db
from clinic.patients.intake import create_patient
from clinic.patients.models import Patient
from tests.courses.races import Contender, race
from tests.factories import count, login
from tests.patients.conftest import intake
from tests.patients.test_import import HEADER, run_import

BASE = "/api/v1"
NFC = unicodedata.normalize("NFC", "José")
NFD = unicodedata.normalize("NFD", "José")


def test_the_api_answers_possible_duplicate_with_the_matches(api: Any, front_desk: Any) -> None:
    body = {"first_name": "Zoë", "last_name": "Rivera", "date_of_birth": "1980-05-17"}
    first = api.as_(front_desk).post(f"{BASE}/patients", json=body).get_json()
    again = api.as_(front_desk).post(
        f"{BASE}/patients", json={**body, "first_name": " zoë ", "last_name": "RIVERA"}
    )
    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "possible_duplicate"
    assert error["matches"] == [{"id": first["id"], "mrn": first["mrn"]}]
    assert count(Patient) == 1
    other_day = api.as_(front_desk).post(
        f"{BASE}/patients", json={**body, "date_of_birth": "1980-05-18"}
    )
    assert other_day.status_code == 201
    anyway = api.as_(front_desk).post(f"{BASE}/patients", json={**body, "allow_duplicate": True})
    assert anyway.status_code == 201
    third = api.as_(front_desk).post(f"{BASE}/patients", json=body)
    assert [m["id"] for m in third.get_json()["error"]["matches"]] == [
        first["id"],
        anyway.get_json()["id"],
    ]


def test_names_are_compared_after_nfc_normalisation(api: Any, front_desk: Any) -> None:
    body = {"first_name": NFC, "last_name": "Núñez", "date_of_birth": "1970-01-01"}
    assert api.as_(front_desk).post(f"{BASE}/patients", json=body).status_code == 201
    decomposed = {**body, "first_name": NFD, "last_name": unicodedata.normalize("NFD", "NÚÑEZ")}
    response = api.as_(front_desk).post(f"{BASE}/patients", json=decomposed)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "possible_duplicate"


def test_renaming_keeps_the_duplicate_check_current(api: Any, front_desk: Any) -> None:
    body = {"first_name": "Sam", "last_name": "Lee", "date_of_birth": "1990-02-03"}
    created = api.as_(front_desk).post(f"{BASE}/patients", json=body).get_json()
    api.as_(front_desk).patch(f"{BASE}/patients/{created['id']}", json={"last_name": "Park"})
    assert api.as_(front_desk).post(f"{BASE}/patients", json=body).status_code == 201
    moved = api.as_(front_desk).post(f"{BASE}/patients", json={**body, "last_name": "park"})
    assert moved.status_code == 409


def test_the_page_offers_the_existing_record_first(client: Any, front_desk: Any) -> None:
    existing = create_patient(intake(), actor_id=None)
    db.session.commit()
    login(client, front_desk)
    form = {"first_name": "jamie", "last_name": "Rivera", "date_of_birth": "1980-05-17"}
    page = client.post("/patients/new", data=form)
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert "may already be registered" in html
    assert f'href="/patients/{existing.id}"' in html and existing.mrn in html
    assert 'name="allow_duplicate"' in html
    assert count(Patient) == 1
    registered = client.post("/patients/new", data={**form, "allow_duplicate": "y"})
    assert registered.status_code == 302
    assert count(Patient) == 2


def test_the_import_catches_nfd_twins_in_the_file_and_the_database(
    runner: Any, tmp_path: Path
) -> None:
    existing = create_patient(
        intake(first_name=NFC, last_name="Stone", date_of_birth=date(1975, 1, 2)), actor_id=None
    )
    db.session.commit()
    content = (
        HEADER
        + f"{NFD},Stone,1975-01-02,,,,,,,,,,,\n"
        + f"Zoë,{NFC},1990-12-31,,,,,,,,,,,\n"
        + f"{unicodedata.normalize('NFD', 'ZOË')},{NFD},1990-12-31,,,,,,,,,,,\n"
    )
    result = run_import(runner, tmp_path, content)
    assert (
        f"row 2: first_name,last_name,date_of_birth: duplicate of patient MRN {existing.mrn}"
        in (result.output)
    )
    assert "row 4: first_name,last_name,date_of_birth: duplicate of row 3 of this file" in (
        result.output
    )
    assert "3 rows: 1 imported, 2 duplicates, 0 failed." in result.output
    assert count(Patient) == 2


def _register(actor_id: int) -> Contender:
    def read() -> Any:
        return lambda: create_patient(intake(first_name="Robin"), actor_id=actor_id)

    return read


def test_two_identical_registrations_at_once_create_one_patient(
    app: Any, backend: str, front_desk: Any
) -> None:
    answers = race(app, backend, [_register(front_desk.id), _register(front_desk.id)])
    assert answers == [200, 409]
    assert len(db.session.scalars(select(Patient)).all()) == 1

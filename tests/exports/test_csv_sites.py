"""CSV exports by site (issue 16): `site_id` narrows every export to one site (patients
and outcomes: the patients with an appointment there); an admin limited to sites only
ever exports theirs; an unknown site is 404 like everywhere else."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clinic.extensions import db
from clinic.scheduling import sites
from tests.factories import login, make_appointment, make_course, make_device, make_patient
from tests.scheduling.conftest import make_la_site

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


@pytest.fixture
def frozen_at() -> datetime:
    return NOW


def _mrns(response: Any) -> set[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return {row["mrn"] for row in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}


@pytest.fixture
def group(api: Any, clinician: Any, frozen: Any) -> dict[str, Any]:
    """A patient seen in New York and one seen in Los Angeles, each with a PEG-3."""
    la = make_la_site()
    found: dict[str, Any] = {"la": la}
    for name, device in (
        ("ny", make_device("Chair A")),
        ("la_patient", make_device("LA 1", site_id=la.id)),
    ):
        patient = make_patient(first_name=name)
        make_appointment(
            make_course(patient, prescriber=clinician), NOW - timedelta(days=1), device=device
        )
        answered = api.as_(clinician).post(
            f"/api/v1/patients/{patient.id}/responses",
            json={"instrument": "PEG-3", "answers": [4, 5, 6]},
        )
        assert answered.status_code == 201
        found[name] = patient.mrn
    return found


def test_every_export_filters_by_site(api: Any, admin: Any, group: dict[str, Any]) -> None:
    client = api.as_(admin)
    la = group["la"].id
    for kind in ("patients", "appointments", "outcomes"):
        everyone = _mrns(client.get(f"/api/v1/exports/{kind}.csv"))
        assert everyone >= {group["ny"], group["la_patient"]}, kind
        there = _mrns(client.get(f"/api/v1/exports/{kind}.csv?site_id={la}"))
        assert there == {group["la_patient"]}, kind
        here = _mrns(client.get(f"/api/v1/exports/{kind}.csv?site_id=1"))
        assert here == {group["ny"]}, kind
        missing = client.get(f"/api/v1/exports/{kind}.csv?site_id=999")
        assert missing.status_code == 404, kind
        assert missing.get_json()["error"]["code"] == "not_found"
        assert client.get(f"/api/v1/exports/{kind}.csv?site_id=x").status_code == 422


def test_an_admin_limited_to_a_site_exports_only_theirs(
    api: Any, admin: Any, group: dict[str, Any]
) -> None:
    la = group["la"].id
    sites.set_user_sites(admin.id, [la], actor_id=admin.id)
    db.session.commit()
    client = api.as_(admin)
    for kind in ("patients", "appointments", "outcomes"):
        assert _mrns(client.get(f"/api/v1/exports/{kind}.csv")) == {group["la_patient"]}
        assert client.get(f"/api/v1/exports/{kind}.csv?site_id=1").status_code == 403


def test_the_exports_page_has_a_site_picker(client: Any, admin: Any, group: dict[str, Any]) -> None:
    la = group["la"].id
    login(client, admin)
    page = client.get("/admin/exports").get_data(as_text=True)
    assert 'name="site_id"' in page and "Los Angeles" in page and "Every site" in page
    chosen = client.get(f"/admin/exports?site_id={la}").get_data(as_text=True)
    assert f"/admin/exports/appointments.csv?site_id={la}" in chosen
    there = client.get(f"/admin/exports/appointments.csv?site_id={la}")
    assert _mrns(there) == {group["la_patient"]}
    assert client.get("/admin/exports/appointments.csv?site_id=999").status_code == 404

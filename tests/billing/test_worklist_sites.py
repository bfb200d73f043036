"""The authorization worklist by site (issue 16): a course belongs to the sites where its
appointments are booked, an authorization to its courses' sites; one with nothing booked
yet shows at every site. Staff limited to sites see only theirs."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from clinic.extensions import db
from clinic.patients.models import Authorization
from clinic.scheduling import sites
from tests.billing.conftest import at
from tests.factories import login, make_appointment, make_course, make_device, make_patient
from tests.scheduling.conftest import make_la_site


def _short(patient: Any, *, booked_on: Any = None) -> Authorization:
    """An approved authorization that expires soon with few sessions left, and its
    course booked on a chair (when given)."""
    authorization = Authorization(
        patient_id=patient.id,
        payer="Aetna",
        sessions_authorized=2,
        status="approved",
        valid_to=date(2026, 4, 10),
    )
    db.session.add(authorization)
    db.session.flush()
    course = make_course(patient, authorization_id=authorization.id)
    if booked_on is not None:
        make_appointment(course, at(2, 4), device=booked_on)
    return authorization


@pytest.fixture
def group(frozen: Any) -> dict[str, Any]:
    la = make_la_site()
    here = _short(make_patient(first_name="Hereford"), booked_on=make_device("Chair A"))
    there = _short(
        make_patient(first_name="Angeleno"), booked_on=make_device("LA 1", site_id=la.id)
    )
    loose_patient = make_patient(first_name="Loosely")
    loose = Authorization(patient_id=loose_patient.id, payer="Cigna", sessions_authorized=36)
    db.session.add(loose)
    db.session.commit()
    return {"la": la, "here": here, "there": there, "loose": loose}


def _ids(answer: Any) -> dict[str, set[int]]:
    return {
        "waiting": {item["id"] for item in answer["waiting"]},
        "expiring": {item["id"] for item in answer["expiring"]},
        "running_out": {item["authorization_id"] for item in answer["running_out"]},
    }


def test_the_api_by_site_and_for_staff_limited_to_one(
    api: Any, admin: Any, front_desk: Any, group: dict[str, Any]
) -> None:
    here, there, loose = group["here"].id, group["there"].id, group["loose"].id
    everyone = api.as_(admin)
    every_site = _ids(everyone.get("/api/v1/billing/authorizations").json)
    assert every_site == {
        "waiting": {loose},
        "expiring": {here, there},
        "running_out": {here, there},
    }
    la_only = {"waiting": {loose}, "expiring": {there}, "running_out": {there}}
    picked = everyone.get(f"/api/v1/billing/authorizations?site_id={group['la'].id}")
    assert _ids(picked.json) == la_only
    assert everyone.get("/api/v1/billing/authorizations?site_id=999").status_code == 404
    assert everyone.get("/api/v1/billing/authorizations?site=1").status_code == 422
    sites.set_user_sites(front_desk.id, [group["la"].id], actor_id=admin.id)
    db.session.commit()
    desk = api.as_(front_desk)
    assert _ids(desk.get("/api/v1/billing/authorizations").json) == la_only
    assert desk.get("/api/v1/billing/authorizations?site_id=1").status_code == 403


def test_the_page_picks_a_site_and_a_limited_desk_sees_its_own(
    client: Any, admin: Any, front_desk: Any, group: dict[str, Any]
) -> None:
    login(client, admin)
    page = client.get("/billing/authorizations").get_data(as_text=True)
    assert "Every site</option>" in page and 'id="site-picker"' in page
    assert "Hereford" in page and "Angeleno" in page and "Loosely" in page
    picked = client.get(f"/billing/authorizations?site_id={group['la'].id}").get_data(as_text=True)
    assert "Hereford" not in picked and "Angeleno" in picked and "Loosely" in picked
    client.post("/logout")
    sites.set_user_sites(front_desk.id, [group["la"].id], actor_id=admin.id)
    db.session.commit()
    login(client, front_desk)
    mine = client.get("/billing/authorizations").get_data(as_text=True)
    assert "Hereford" not in mine and "Angeleno" in mine and "Loosely" in mine
    assert "site-picker" not in mine  # one site: nothing to pick
    assert client.get("/billing/authorizations?site_id=1").status_code == 403

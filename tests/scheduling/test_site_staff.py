"""Staff and sites (issue 16): a user limited to one site sees and books only there (an
appointment elsewhere is 403 to read, move, cancel or check in); front desk and
technicians work at one site, admins and clinicians may cover several."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from clinic.errors import Invalid
from clinic.extensions import db
from clinic.scheduling import sites
from tests.factories import login, make_appointment, make_course, make_device, make_user
from tests.scheduling.conftest import local, make_la_site


@pytest.fixture
def two_sites(admin: Any) -> dict[str, Any]:
    la = make_la_site()
    here, there = make_device("Chair A"), make_device("LA 1", site_id=la.id)
    return {
        "la": la,
        "there_chair": there,
        "here": make_appointment(make_course(), local(date(2026, 3, 3), 9), device=here),
        "there": make_appointment(make_course(), local(date(2026, 3, 3), 14), device=there),
    }


def test_a_limited_user_cannot_touch_an_appointment_at_another_site(
    api: Any, admin: Any, front_desk: Any, two_sites: dict[str, Any]
) -> None:
    sites.set_user_sites(front_desk.id, [two_sites["la"].id], actor_id=admin.id)
    db.session.commit()
    desk = api.as_(front_desk)
    elsewhere, mine = two_sites["here"].id, two_sites["there"].id
    assert desk.get(f"/api/v1/appointments/{mine}").status_code == 200
    assert desk.get(f"/api/v1/appointments/{elsewhere}").status_code == 403
    moved_in = desk.patch(
        f"/api/v1/appointments/{elsewhere}", json={"device_id": two_sites["there_chair"].id}
    )
    assert moved_in.status_code == 403
    assert desk.post(f"/api/v1/appointments/{elsewhere}/cancel", json={}).status_code == 403
    assert desk.post(f"/api/v1/appointments/{elsewhere}/no-show", json={}).status_code == 403
    db.session.expire_all()
    assert two_sites["here"].status == "scheduled"
    assert desk.post(f"/api/v1/appointments/{mine}/cancel", json={}).status_code == 200


def test_a_limited_technician_cannot_check_in_elsewhere(
    client: Any, admin: Any, technician: Any, two_sites: dict[str, Any]
) -> None:
    sites.set_user_sites(technician.id, [two_sites["la"].id], actor_id=admin.id)
    db.session.commit()
    login(client, technician)
    app = client.application
    app.config["WTF_CSRF_ENABLED"] = False
    refused = client.post(f"/appointments/{two_sites['here'].id}/check-in")
    assert refused.status_code in (302, 403)
    db.session.expire_all()
    assert two_sites["here"].status == "scheduled"


def test_front_desk_and_technicians_work_at_one_site(
    admin: Any, front_desk: Any, technician: Any, two_sites: dict[str, Any]
) -> None:
    both = [1, two_sites["la"].id]
    for user in (front_desk, technician):
        with pytest.raises(Invalid):
            sites.set_user_sites(user.id, both, actor_id=admin.id)
        db.session.rollback()
        assert sites.set_user_sites(user.id, [two_sites["la"].id], actor_id=admin.id)
        assert sites.set_user_sites(user.id, [], actor_id=admin.id) == set()  # every site


def test_admins_and_clinicians_may_cover_several(
    api: Any, client: Any, admin: Any, two_sites: dict[str, Any]
) -> None:
    third = sites.create_site(
        name="Denver", timezone="America/Denver", holidays="none", actor_id=None
    )
    denver = make_appointment(
        make_course(), local(date(2026, 3, 3), 11), device=make_device("D1", site_id=third.id)
    )
    both = {1, two_sites["la"].id}
    for role in ("clinician", "admin"):
        user = make_user(role)
        assert sites.set_user_sites(user.id, both, actor_id=admin.id) == both
        db.session.commit()
        seen = api.as_(user).get("/api/v1/appointments?date=2026-03-03").get_json()["items"]
        assert {a["id"] for a in seen} == {two_sites["here"].id, two_sites["there"].id}
        assert api.as_(user).get(f"/api/v1/appointments/{denver.id}").status_code == 403
        login(client, user)
        board = client.get(f"/schedule?date=2026-03-03&site_id={two_sites['la'].id}")
        page = board.get_data(as_text=True)
        assert board.status_code == 200 and "LA 1" in page
        assert ">Clinic</option>" in page and "Denver" not in page  # the picker: theirs
        assert client.get(f"/schedule?site_id={third.id}").status_code == 403
        client.get("/logout")


def test_the_users_page_refuses_two_sites_for_the_front_desk(
    client: Any, admin: Any, front_desk: Any, two_sites: dict[str, Any]
) -> None:
    login(client, admin)
    page = client.post(
        f"/admin/users/{front_desk.id}/sites", data={"site_ids": [1, two_sites["la"].id]}
    )
    assert page.status_code == 422 and "one site" in page.get_data(as_text=True)
    assert sites.user_site_ids(front_desk.id) is None


def test_a_role_change_to_one_site_roles_is_refused_over_several_sites(
    client: Any, admin: Any, clinician: Any, two_sites: dict[str, Any]
) -> None:
    """Issue 16: a clinician covering two sites cannot become front desk or technician
    until an admin picks their one site (refused with a 422 that says so, never a silent
    drop of a site); admins and clinicians keep several."""
    both = {1, two_sites["la"].id}
    sites.set_user_sites(clinician.id, both, actor_id=admin.id)
    db.session.commit()
    login(client, admin)
    client.application.config["WTF_CSRF_ENABLED"] = False
    for role in ("front_desk", "technician"):
        page = client.post(
            f"/admin/users/{clinician.id}", data={"name": clinician.name, "role": role}
        )
        assert page.status_code == 422
        assert "Choose their one site first" in page.get_data(as_text=True)
        db.session.expire_all()
        assert clinician.role == "clinician" and sites.user_site_ids(clinician.id) == both
    assert (
        client.post(
            f"/admin/users/{clinician.id}", data={"name": clinician.name, "role": "admin"}
        ).status_code
        == 302
    )
    sites.set_user_sites(clinician.id, [two_sites["la"].id], actor_id=admin.id)
    db.session.commit()
    moved = client.post(
        f"/admin/users/{clinician.id}", data={"name": clinician.name, "role": "front_desk"}
    )
    assert moved.status_code == 302
    db.session.expire_all()
    assert clinician.role == "front_desk"
    assert sites.user_site_ids(clinician.id) == {two_sites["la"].id}

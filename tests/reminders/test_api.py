"""GET /api/v1/reminders."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinic.audit.models import AuditEvent
from clinic.extensions import db
from clinic.scheduling import sites
from tests.factories import make_user
from tests.reminders.conftest import book, cancel

# Noon in the clinic three days ahead: comfortably inside any day's opening hours.
LATER = datetime.combine(date.today() + timedelta(days=3), time(12), ZoneInfo("America/New_York"))


def test_lists_a_patients_reminders_with_the_contract_fields(api: Any, front_desk: Any) -> None:
    appointment = book(LATER)
    book(LATER + timedelta(days=1))  # another patient
    response = api.as_(front_desk).get(f"/api/v1/reminders?patient_id={appointment.patient_id}")
    assert response.status_code == 200
    items = response.json["items"]
    assert {i["channel"] for i in items} == {"email", "sms"}
    for item in items:
        assert {
            "id",
            "appointment_id",
            "kind",
            "channel",
            "due_at",
            "status",
            "attempts",
            "sent_at",
        } <= set(item)
        assert item["appointment_id"] == appointment.id and item["status"] == "pending"
        assert item["due_at"].endswith(("Z", "+00:00")) and item["sent_at"] is None
    viewed = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "view", AuditEvent.patient_id == appointment.patient_id
        )
    )
    assert viewed is not None


def test_filters_by_appointment_and_status(api: Any, clinician: Any) -> None:
    kept = book(LATER)
    # A mapping session gets no make-up when cancelled: only `kept` has pending reminders.
    gone = book(LATER + timedelta(days=1), kind="mapping")
    cancel(gone)
    client = api.as_(clinician)
    by_appointment = client.get(f"/api/v1/reminders?appointment_id={gone.id}").json["items"]
    assert {i["status"] for i in by_appointment} == {"cancelled"}
    pending = client.get("/api/v1/reminders?status=pending").json["items"]
    assert {i["appointment_id"] for i in pending} == {kept.id}


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("front_desk", 200), ("clinician", 200), ("technician", 403)],
)
def test_roles(api: Any, role: str, status: int) -> None:
    # One user per test: the test app context keeps flask-login's user between requests.
    assert api.as_(make_user(role)).get("/api/v1/reminders").status_code == status


def test_a_token_is_required(client: Any) -> None:
    assert client.get("/api/v1/reminders").status_code == 401


def test_bad_filters_answer_422(api: Any, admin: Any) -> None:
    for query in ("status=lost", "patient_id=abc", "appointment_id=99999999999999999999", "x=1"):
        response = api.as_(admin).get(f"/api/v1/reminders?{query}")
        assert response.status_code == 422, query
        assert response.json["error"]["code"] == "validation_error"


def test_pages_by_cursor_through_every_message_once(api: Any, admin: Any) -> None:
    """Three sessions at the same hour give messages due at the same instant: the cursor
    holds the id too, so each still comes exactly once, newest due first."""
    for day in (0, 0, 0, 1):
        book(LATER + timedelta(days=day))
    client = api.as_(admin)
    whole = client.get("/api/v1/reminders").json
    assert len(whole["items"]) == 8 and whole["next_cursor"] is None
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get("/api/v1/reminders?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status_code == 200, page.json
        assert len(page.json["items"]) <= 3
        seen += page.json["items"]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert [item["id"] for item in seen] == [item["id"] for item in whole["items"]]


def test_a_forged_cursor_answers_422_naming_it(api: Any, admin: Any) -> None:
    for cursor in ("garbage", "bm90LWEtZGF0ZXwx", "MjAyNi0wMS0wMVQwMDowMDowMHwx"):
        answer = api.as_(admin).get(f"/api/v1/reminders?cursor={cursor}")
        assert answer.status_code == 422, cursor
        assert answer.json["error"]["fields"]["cursor"]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            ["patient_id", "appointment_id", "status", "limit", "offset", "cursor", "junk"]
        ),
        st.one_of(st.text(max_size=30), st.integers(min_value=-(2**70), max_value=2**70)),
        max_size=4,
    )
)
def test_fuzzed_queries_never_500(api: Any, admin: Any, params: dict[str, Any]) -> None:
    response = api.as_(admin).get("/api/v1/reminders", query_string=params)
    assert response.status_code in (200, 422), response.json
    if response.status_code == 422:
        assert response.json["error"]["message"]


def test_by_site_and_only_the_sites_of_a_limited_user(
    api: Any, admin: Any, front_desk: Any
) -> None:
    """Issue 16: `site_id` filters; staff limited to a site see only its messages (as on
    the reminders page), 403 for another site, 404 for an unknown one."""
    from tests.scheduling.conftest import make_la_site

    here, there = book(LATER), book(LATER + timedelta(days=1))
    la = make_la_site()
    there.device.site_id = la.id
    db.session.commit()
    everyone = api.as_(admin)
    by_site = everyone.get(f"/api/v1/reminders?site_id={la.id}").json["items"]
    assert {i["appointment_id"] for i in by_site} == {there.id}
    everything = everyone.get("/api/v1/reminders").json["items"]
    assert {i["appointment_id"] for i in everything} == {here.id, there.id}
    assert everyone.get("/api/v1/reminders?site_id=999").status_code == 404
    sites.set_user_sites(front_desk.id, [la.id], actor_id=admin.id)
    db.session.commit()
    desk = api.as_(front_desk)
    mine = desk.get("/api/v1/reminders").json["items"]
    assert mine and {i["appointment_id"] for i in mine} == {there.id}
    assert desk.get(f"/api/v1/reminders?patient_id={here.patient_id}").json["items"] == []
    assert desk.get("/api/v1/reminders?site_id=1").status_code == 403

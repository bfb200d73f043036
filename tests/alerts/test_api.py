"""GET /api/v1/alerts and POST /api/v1/alerts/{id}/acknowledge."""

from __future__ import annotations

from typing import Any

import pytest

from clinic.alerts.services import acknowledge_alert, raise_alert
from clinic.extensions import db
from tests.factories import ApiClient, make_user

NEGATIVE_ASQ = {"instrument": "ASQ", "answers": [False, False, False, False]}


@pytest.fixture
def alert(app: Any) -> Any:
    created = raise_alert("suicidal_ideation", "PHQ-9 item 9", severity="urgent")
    db.session.commit()
    return created


@pytest.mark.parametrize("role", ["admin", "front_desk", "technician", "clinician"])
def test_every_role_reads_open_alerts_only_admins_and_clinicians_acknowledge(
    api: ApiClient, alert: Any, role: str
) -> None:
    """One identity per test: the test app context would keep Flask-Login's user in `g`."""
    client = api.as_(make_user(role))
    answer = client.get("/api/v1/alerts?status=open")
    assert answer.status_code == 200
    item = answer.get_json()["items"][0]
    expected = {"id", "kind", "patient_id", "created_at", "severity", "status", "escalated_at"}
    assert expected <= set(item)
    assert item["created_at"].endswith(("Z", "+00:00"))
    acknowledged = client.post(
        f"/api/v1/alerts/{alert.id}/acknowledge", json={"note": "x", "risk_screen": NEGATIVE_ASQ}
    )
    assert acknowledged.status_code == (200 if role in ("admin", "clinician") else 403)


def test_acknowledging_with_a_note_then_409(api: ApiClient, alert: Any, clinician: Any) -> None:
    client = api.as_(clinician)
    assert client.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={}).status_code == 422
    assert (
        client.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={"note": "  "}).status_code
        == 422
    )
    answer = client.post(
        f"/api/v1/alerts/{alert.id}/acknowledge",
        json={"note": "Called.", "risk_screen": NEGATIVE_ASQ},
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["status"], body["acknowledgement_note"]) == ("acknowledged", "Called.")
    assert body["acknowledged_by_id"] == clinician.id
    again = client.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={"note": "again"})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_acknowledged"
    assert client.get("/api/v1/alerts?status=open").get_json()["items"] == []
    assert client.get("/api/v1/alerts?status=nonsense").status_code == 422
    missing = client.post("/api/v1/alerts/99999999999/acknowledge", json={"note": "x"})
    assert missing.status_code == 404


def _acknowledged(count: int, actor_id: int) -> list[int]:
    """`count` acknowledged alerts (raised in the same frozen instant), newest first."""
    raised = [raise_alert("authorization", f"Authorization {n}") for n in range(count)]
    db.session.flush()
    for each in raised:
        acknowledge_alert(each.id, "Called the payer.", actor_id=actor_id)
    db.session.commit()
    return sorted((each.id for each in raised), reverse=True)


def test_the_acknowledged_history_pages_by_cursor_each_alert_once(
    api: ApiClient, clinician: Any, frozen: Any
) -> None:
    """The list stopped at `limit` (1,000 at most): older acknowledged alerts could not be
    read at all. Open alerts come whole on the first page; the cursor pages on through
    the history, each alert once though all share one instant."""
    history = _acknowledged(7, clinician.id)
    still_open = raise_alert("authorization", "Authorization still open")
    db.session.commit()
    client = api.as_(clinician)
    first = client.get("/api/v1/alerts?limit=3").get_json()
    assert [item["id"] for item in first["items"]] == [still_open.id, *history[:2]]
    seen, cursor = [item["id"] for item in first["items"][1:]], first["next_cursor"]
    while cursor:
        page = client.get(f"/api/v1/alerts?limit=3&cursor={cursor}")
        assert page.status_code == 200, page.get_json()
        seen += [item["id"] for item in page.get_json()["items"]]
        cursor = page.get_json()["next_cursor"]
    assert seen == history


@pytest.mark.parametrize(
    "query", ["status=open&cursor={c}", "flagged=true&cursor={c}", "cursor=garbage"]
)
def test_a_cursor_out_of_place_or_forged_is_a_clear_422(
    api: ApiClient, clinician: Any, frozen: Any, query: str
) -> None:
    _acknowledged(3, clinician.id)
    client = api.as_(clinician)
    cursor = client.get("/api/v1/alerts?status=acknowledged&limit=1").get_json()["next_cursor"]
    answer = client.get("/api/v1/alerts?" + query.format(c=cursor))
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"]["cursor"]

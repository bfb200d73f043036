"""GET /api/v1/alerts and POST /api/v1/alerts/{id}/acknowledge."""

from __future__ import annotations

from typing import Any

import pytest

from clinic.alerts.services import raise_alert
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

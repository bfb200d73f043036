"""The alerts page: every role reads it, an admin or clinician acknowledges with a note."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from clinic import clock
from clinic.alerts.models import Alert
from clinic.alerts.services import acknowledge_alert, escalate_alerts, raise_alert
from clinic.audit.models import AuditEvent
from clinic.extensions import db
from tests.factories import login, make_patient

NEGATIVE_ASQ = {"instrument": "ASQ", "answers": [False, False, False, False]}
NEGATIVE_ASQ_FORM = {f"asq_{n}": "no" for n in range(1, 5)}


def _many_alerts(count: int) -> None:
    for n in range(count):
        patient = make_patient()
        raise_alert("suicidal_ideation", f"alert {n}", severity="urgent", patient_id=patient.id)
    db.session.commit()


def test_the_alerts_page_lists_open_urgent_first_and_acknowledges(
    client: FlaskClient, clinician: Any
) -> None:
    raise_alert("authorization", "Authorization nearly used", severity="warning")
    patient = make_patient()
    raise_alert("suicidal_ideation", "PHQ-9 item 9", severity="urgent", patient_id=patient.id)
    db.session.commit()
    login(client, clinician)
    html = client.get("/alerts").get_data(as_text=True)
    assert html.index("item 9") < html.index("Authorization nearly used")
    assert f'/patients/{patient.id}/responses"' in html
    alert = db.session.scalar(select(Alert).where(Alert.kind == "suicidal_ideation"))
    assert alert is not None
    refused = client.post(f"/alerts/{alert.id}/acknowledge", data={"note": ""})
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/alerts")
    done = client.post(
        f"/alerts/{alert.id}/acknowledge",
        data={"note": "Called, safe", "risk_screen": "y", **NEGATIVE_ASQ_FORM},
        follow_redirects=True,
    )
    assert "Alert acknowledged." in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "acknowledged"


def test_acknowledging_twice_says_so_and_writes_nothing(
    client: FlaskClient, clinician: Any, admin: Any
) -> None:
    _many_alerts(1)
    alert_id = db.session.scalar(select(Alert.id))
    acknowledge_alert(alert_id, "Called first", actor_id=admin.id, risk_screen=NEGATIVE_ASQ)
    db.session.commit()
    login(client, clinician)
    audited = len(db.session.scalars(select(AuditEvent)).all())
    again = client.post(
        f"/alerts/{alert_id}/acknowledge", data={"note": "Me too"}, follow_redirects=True
    )
    assert "already acknowledged" in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Alert, alert_id).acknowledgement_note == "Called first"
    assert len(db.session.scalars(select(AuditEvent)).all()) == audited


def test_an_escalated_alert_shows_it_on_the_list(client: FlaskClient, technician: Any) -> None:
    _many_alerts(1)
    escalate_alerts(clock.now() + timedelta(hours=3))
    db.session.commit()
    login(client, technician)
    assert "Escalated" in client.get("/alerts").get_data(as_text=True)


def test_front_desk_sees_alerts_without_the_acknowledge_form(
    client: FlaskClient, front_desk: Any
) -> None:
    _many_alerts(1)
    login(client, front_desk)
    html = client.get("/alerts").get_data(as_text=True)
    assert "alert 0" in html and "Acknowledge" not in html
    alert_id = db.session.scalar(select(Alert.id))
    assert client.post(f"/alerts/{alert_id}/acknowledge", data={"note": "x"}).status_code == 403


def test_the_alerts_page_statement_count_does_not_grow(
    client: FlaskClient, clinician: Any, count_queries: Any
) -> None:
    login(client, clinician)
    _many_alerts(2)
    with count_queries() as few:
        assert client.get("/alerts").status_code == 200
    _many_alerts(12)
    with count_queries() as many:
        assert client.get("/alerts").status_code == 200
    assert many.count == few.count


def test_older_acknowledged_alerts_are_a_page_away(
    client: FlaskClient, clinician: Any, monkeypatch: Any
) -> None:
    """The page showed the latest acknowledged alerts and nothing older, whatever a
    clinician needed to look back on. It pages on by cursor now."""
    monkeypatch.setattr("clinic.alerts.routes.ACKNOWLEDGED_ALERTS_SHOWN", 2)
    for n in range(3):
        raised = raise_alert("authorization", f"Authorization number {n}")
        db.session.flush()
        acknowledge_alert(raised.id, "Called the payer.", actor_id=clinician.id)
    db.session.commit()
    login(client, clinician)
    first = client.get("/alerts").get_data(as_text=True)
    assert "Authorization number 2" in first and "Authorization number 1" in first
    assert "Authorization number 0" not in first and "Latest acknowledged" not in first
    older = re.search(r'href="([^"]*cursor=[^"#]*)[^"]*">Older', first)
    assert older is not None
    second = client.get(html.unescape(older.group(1))).get_data(as_text=True)
    assert "Authorization number 0" in second and "Authorization number 1" not in second
    assert "Acknowledged earlier" in second and "Latest acknowledged" in second
    assert ">Older<" not in second


def test_a_forged_history_cursor_is_a_clear_error(client: FlaskClient, clinician: Any) -> None:
    login(client, clinician)
    page = client.get("/alerts?cursor=garbage")
    assert page.status_code == 422
    assert "That page cursor is not one this list gave." in page.get_data(as_text=True)

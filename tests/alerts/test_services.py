"""Acknowledging and escalating alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask

from clinic import events
from clinic.alerts.services import acknowledge_alert, escalate_alerts, list_alerts, raise_alert
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from tests.factories import captured

OPENED = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
NEGATIVE_ASQ = {"instrument": "ASQ", "answers": [False, False, False, False]}


def urgent(title: str = "PHQ-9 item 9") -> Any:
    with time_machine.travel(OPENED, tick=False):
        alert = raise_alert("suicidal_ideation", title, severity="urgent")
        db.session.commit()
    return alert


def test_acknowledging_needs_a_note_and_happens_once(clinician: Any, admin: Any) -> None:
    alert = urgent()
    with pytest.raises(Invalid) as missing:
        acknowledge_alert(alert.id, "   ", actor_id=clinician.id)
    assert "note" in missing.value.fields
    acknowledged = acknowledge_alert(
        alert.id, "Called the patient; safe.", actor_id=clinician.id, risk_screen=NEGATIVE_ASQ
    )
    db.session.commit()
    assert acknowledged.status == "acknowledged"
    assert acknowledged.acknowledged_by_id == clinician.id
    assert acknowledged.acknowledgement_note == "Called the patient; safe."
    with pytest.raises(Conflict) as again:
        acknowledge_alert(alert.id, "me too", actor_id=admin.id)
    assert again.value.code == "already_acknowledged"
    with pytest.raises(NotFound):
        acknowledge_alert(2**40, "x", actor_id=admin.id)


def test_open_urgent_alerts_are_listed_first(app: Flask) -> None:
    warning = raise_alert("authorization", "Authorization runs out", severity="warning")
    first = urgent("older urgent")
    done = raise_alert("other", "done", severity="urgent")
    acknowledge_alert(done.id, "handled", actor_id=None)  # type: ignore[arg-type]
    second = raise_alert("suicidal_ideation", "newer urgent", severity="urgent")
    ordered = [a.id for a in list_alerts()]
    assert ordered == [second.id, first.id, warning.id, done.id]
    assert [a.id for a in list_alerts(status="open")] == [second.id, first.id, warning.id]


def test_acknowledged_alerts_follow_newest_first_and_the_limit_counts_both(app: Flask) -> None:
    """The history is read newest first whatever its severity (an index order, so the
    list stays as fast after years of alerts); open ones still come first."""
    history = []
    for minutes, severity in ((0, "urgent"), (10, "info"), (20, "warning")):
        with time_machine.travel(OPENED + timedelta(minutes=minutes), tick=False):
            alert = raise_alert("other", f"old {severity}", severity=severity)
            acknowledge_alert(alert.id, "handled", actor_id=None)  # type: ignore[arg-type]
            history.append(alert.id)
    still_open = urgent("still open")
    db.session.commit()
    assert [a.id for a in list_alerts()] == [still_open.id, *reversed(history)]
    assert [a.id for a in list_alerts(limit=2)] == [still_open.id, history[2]]
    assert [a.id for a in list_alerts(status="acknowledged")] == list(reversed(history))


def test_an_urgent_alert_is_escalated_once_after_the_delay(app: Flask) -> None:
    alert = urgent()
    raise_alert("authorization", "not urgent", severity="warning")
    with captured(events.alert_escalated) as escalated:
        assert escalate_alerts(OPENED + timedelta(minutes=119)) == 0
        assert escalate_alerts(OPENED + timedelta(minutes=120)) == 1
        assert escalate_alerts(OPENED + timedelta(minutes=300)) == 0
    assert [e["alert"].id for e in escalated] == [alert.id]
    assert alert.escalated_at == OPENED + timedelta(minutes=120)


def test_the_escalation_delay_is_a_setting_and_acknowledged_alerts_are_left_alone(
    app: Flask, clinician: Any
) -> None:
    app.config["CLINIC_ALERT_ESCALATION_MINUTES"] = 30
    handled, waiting = urgent(), urgent()
    acknowledge_alert(handled.id, "seen", actor_id=clinician.id, risk_screen=NEGATIVE_ASQ)
    assert escalate_alerts(OPENED + timedelta(minutes=30)) == 1
    assert waiting.escalated_at is not None and handled.escalated_at is None

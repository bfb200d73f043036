"""From the chart: send a questionnaire link by text or email (no URL to copy), see every
message that went to the patient (to which address, when, how it went), and send one
again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.extensions import db
from clinic.reminders.dispatch import dispatch_all
from clinic.reminders.models import Reminder
from tests.factories import login
from tests.reminders.conftest import TwilioStub, reachable_patient

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


def _rows() -> list[Reminder]:
    db.session.expire_all()
    return list(db.session.scalars(select(Reminder).order_by(Reminder.id)))


def test_send_a_questionnaire_by_text_from_the_chart_then_resend_it(
    client: Any, front_desk: Any, twilio_stub: TwilioStub, frozen: Any
) -> None:
    patient = reachable_patient(first_name="Rosa", phone="+16175550123", preferred_channel="email")
    login(client, front_desk)
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "By text to (617) 555-0123" in chart and "No message sent yet." in chart
    sent = client.post(
        f"/patients/{patient.id}/questionnaire-links",
        data={"link-instrument": "GAD-7", "send": "sms", "next": f"/patients/{patient.id}"},
    )
    assert sent.status_code == 302 and sent.headers["Location"] == f"/patients/{patient.id}"
    [row] = _rows()
    assert (row.channel, row.recipient, row.kind) == ("sms", "+16175550123", "questionnaire_link")
    assert dispatch_all(NOW).sent == 1
    [sms] = twilio_stub.messages
    assert "/q/" in sms["Body"]

    history = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Questionnaire link" in history and "(617) 555-0123" in history
    assert "Send again" in history
    again = client.post(f"/reminders/{row.id}/resend", data={"next": f"/patients/{patient.id}"})
    assert again.status_code == 302
    assert len(_rows()) == 2
    assert dispatch_all(NOW).sent == 1
    assert twilio_stub.messages[1]["Body"] == sms["Body"]


def test_no_send_button_without_consent(client: Any, front_desk: Any) -> None:
    patient = reachable_patient(email_ok=False, sms_ok=False)
    login(client, front_desk)
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Send a questionnaire link" not in chart
    refused = client.post(
        f"/patients/{patient.id}/questionnaire-links",
        data={"link-instrument": "PHQ-9", "send": "sms"},
    )
    assert refused.status_code == 302 and _rows() == []

"""Pages: admin policy and templates, the scheduler page, patients' links, Twilio's webhook."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from clinic.extensions import db
from clinic.reminders import message_templates, planning, policy
from clinic.reminders.models import AppointmentResponse, Reminder
from clinic.scheduler import heartbeat
from tests.factories import login
from tests.reminders.conftest import TWILIO_TOKEN, book, move, reachable_patient

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=NY)
START = datetime(2026, 3, 3, 15, 0, tzinfo=NY).astimezone(UTC)


def _token(url: str) -> str:
    return url.rsplit("/", 2)[-2]


def test_admin_changes_the_policy(client: Any, admin: Any) -> None:
    login(client, admin)
    page = client.get("/admin/reminders/policy")
    assert page.status_code == 200 and "Quiet hours begin" in page.get_data(as_text=True)
    response = client.post(
        "/admin/reminders/policy",
        data={
            "email_enabled": "y",
            "email_offset_minutes": "2880",
            "sms_offset_minutes": "90",
            "quiet_start": "22:00",
            "quiet_end": "07:30",
            "remind_treatment": "y",
        },
    )
    assert response.status_code == 302
    saved = policy.get_policy()
    db.session.refresh(saved)
    assert saved.email_offset_minutes == 2880 and saved.sms_enabled is False
    assert saved.quiet_start.hour == 22 and saved.remind_mapping is False


def test_policy_refuses_nonsense(client: Any, admin: Any) -> None:
    login(client, admin)
    response = client.post(
        "/admin/reminders/policy",
        data={"email_offset_minutes": "-5", "sms_offset_minutes": "99999999", "quiet_start": "x"},
    )
    assert response.status_code == 200
    assert "There are" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["front_desk", "technician", "clinician"])
def test_admin_pages_are_for_admins(client: Any, role: str) -> None:
    from tests.factories import make_user

    login(client, make_user(role))
    for path in ("/admin/reminders/policy", "/admin/reminders/templates", "/admin/scheduler"):
        assert client.get(path).status_code == 403


def test_template_preview_then_save(client: Any, admin: Any) -> None:
    login(client, admin)
    assert "Appointment reminder" in client.get("/admin/reminders/templates").get_data(as_text=True)
    path = "/admin/reminders/templates/appointment_reminder/sms"
    body = "{clinic_name}: see you {date} at {time}. Reply STOP to opt out."
    preview = client.post(path, data={"body": body, "preview": "Preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Northside Clinic: see you Monday 9 March 2026" in html
    assert message_templates.get_template("appointment_reminder", "sms").body != body + "\n"
    saved = client.post(path, data={"body": body, "save": "Save"})
    assert saved.status_code == 302
    assert message_templates.get_template("appointment_reminder", "sms").body == body + "\n"


def test_an_sms_template_with_clinical_words_is_refused(client: Any, admin: Any) -> None:
    login(client, admin)
    response = client.post(
        "/admin/reminders/templates/appointment_reminder/sms",
        data={"body": "{clinic_name}: your rTMS session {date} {time}", "save": "Save"},
    )
    assert response.status_code == 200
    assert "nothing clinical" in response.get_data(as_text=True)


def test_patient_confirms_and_asks_for_a_change(client: Any, front_desk: Any, frozen: Any) -> None:
    appointment = book(START)
    values = planning.appointment_values(appointment, NY)
    confirm = client.get(f"/r/{_token(values['confirm_url'])}/confirm")
    assert confirm.status_code == 200 and "15:00" in confirm.get_data(as_text=True)
    assert client.post(f"/r/{_token(values['confirm_url'])}/confirm").status_code == 200
    change_path = f"/r/{_token(values['change_url'])}/change"
    answered = client.post(change_path, data={"message": "Could we do Thursday?"})
    assert "front desk will contact you" in answered.get_data(as_text=True)
    again = client.post(change_path, data={"message": "again"})
    assert again.status_code == 409
    responses = db.session.scalars(select(AppointmentResponse)).all()
    assert {r.kind for r in responses} == {"confirm", "change"}
    login(client, front_desk)
    page = client.get("/reminders/change-requests").get_data(as_text=True)
    assert "Could we do Thursday?" in page and appointment.patient.mrn in page


def test_a_link_from_before_a_move_says_so(client: Any, frozen: Any) -> None:
    appointment = book(START)
    old = planning.appointment_values(appointment, NY)
    move(appointment, START + timedelta(days=1))
    response = client.get(f"/r/{_token(old['confirm_url'])}/confirm")
    assert response.status_code == 410 and "changed" in response.get_data(as_text=True)
    assert client.get("/r/forged-token/confirm").status_code == 404


def test_links_expire(client: Any, frozen: Any) -> None:
    appointment = book(START)
    url = planning.appointment_values(appointment, NY)["ics_url"]
    frozen.move_to(START + timedelta(days=2))
    assert client.get(f"/r/{_token(url)}/calendar.ics").status_code == 410


def test_calendar_download(client: Any, frozen: Any) -> None:
    appointment = book(START)
    url = planning.appointment_values(appointment, NY)["ics_url"]
    response = client.get(f"/r/{_token(url)}/calendar.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    assert f"UID:appointment-{appointment.id}@127.0.0.1" in body
    assert "SUMMARY:Appointment at Northside Clinic" in body


def _signed_post(client: Any, data: dict[str, str], token: str = TWILIO_TOKEN) -> Any:
    url = "http://localhost/webhooks/twilio/sms"
    signature = RequestValidator(token).compute_signature(url, data)
    return client.post(url, data=data, headers={"X-Twilio-Signature": signature})


def test_stop_webhook_with_a_good_signature_withdraws_consent(client: Any, frozen: Any) -> None:
    appointment = book(START)
    patient = appointment.patient
    response = _signed_post(client, {"From": patient.phone, "Body": "STOP", "MessageSid": "SM1"})
    assert response.status_code == 200 and "<Response>" in response.get_data(as_text=True)
    db.session.expire_all()
    assert patient.sms_consent is False
    sms = db.session.scalar(
        select(Reminder).where(Reminder.appointment_id == appointment.id, Reminder.channel == "sms")
    )
    assert sms is not None and sms.status == "cancelled"


def test_stop_webhook_with_a_bad_signature_is_refused(client: Any, frozen: Any) -> None:
    patient = reachable_patient()
    forged = _signed_post(client, {"From": patient.phone, "Body": "STOP"}, token="wrong")
    assert forged.status_code == 403
    unsigned = client.post("/webhooks/twilio/sms", data={"From": patient.phone, "Body": "STOP"})
    assert unsigned.status_code == 403
    db.session.refresh(patient)
    assert patient.sms_consent is True


def test_front_desk_reminder_list_has_bounded_queries(
    client: Any, front_desk: Any, frozen: Any, count_queries: Any
) -> None:
    login(client, front_desk)
    book(START)
    with count_queries() as few:
        assert client.get("/reminders?day=2026-03-02").status_code == 200
    for slot in (1, 2, 3, 4):
        book(START + timedelta(minutes=40 * slot))
    with count_queries() as many:
        page = client.get("/reminders?day=2026-03-02")
    assert many.count == few.count
    assert page.get_data(as_text=True).count("Appointment reminder") >= 2


def test_a_busy_days_reminders_page_on_to_the_earliest(
    client: Any, front_desk: Any, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day of a busy site holds more messages than a page: the list said "filter by
    status to see more" and the rest could not be seen. Now it pages on by cursor."""
    monkeypatch.setattr("clinic.reminders.routes.PAGE_LIMIT", 3)
    login(client, front_desk)
    for _ in range(4):  # four sessions at once: four texts due at the same instant
        book(START)
    first = client.get("/reminders?day=2026-03-03").get_data(as_text=True)
    assert first.count("<td>SMS</td>") == 3
    earlier = re.search(r'href="([^"]*cursor=[^"]*)">Earlier due', first)
    assert earlier is not None and "Latest due" not in first
    second = client.get(html.unescape(earlier.group(1))).get_data(as_text=True)
    assert second.count("<td>SMS</td>") == 1
    assert "Latest due" in second and "Earlier due" not in second


def test_a_forged_page_cursor_is_a_clear_error(client: Any, front_desk: Any) -> None:
    login(client, front_desk)
    page = client.get("/reminders?cursor=garbage")
    assert page.status_code == 422
    assert "That page cursor is not one this list gave." in page.get_data(as_text=True)


def test_technician_opts_into_the_daily_schedule(client: Any, technician: Any) -> None:
    login(client, technician)
    assert client.get("/profile/daily-schedule").status_code == 200
    client.post("/profile/daily-schedule", data={"wants_daily_schedule": "y"})
    db.session.refresh(technician)
    assert technician.wants_daily_schedule is True


def test_scheduler_page_shows_the_heartbeat(client: Any, admin: Any) -> None:
    login(client, admin)
    assert "never run" in client.get("/admin/scheduler").get_data(as_text=True)
    heartbeat.record_heartbeat(
        "dispatch_reminders", at=datetime.now(UTC), success=True, duration_ms=3
    )
    db.session.commit()
    assert "It is running" in client.get("/admin/scheduler").get_data(as_text=True)

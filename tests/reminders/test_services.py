"""Planning and delivering reminders against a real SMTP server and a Twilio stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from icalendar import Calendar
from sqlalchemy import select

from clinic import events
from clinic.alerts.models import Alert
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.patients.models import ConsentEvent
from clinic.reminders import (
    answers,
    inbound_sms,
    message_templates,
    messages,
    planning,
    policy,
    sending,
    staff_messages,
)
from clinic.reminders.dispatch import LEASE, claim_due, dispatch_all, dispatch_due
from clinic.reminders.models import Reminder
from clinic.reminders.sending import MAX_ATTEMPTS
from tests.factories import make_user
from tests.reminders.conftest import MailServer, TwilioStub, book, cancel, move, reachable_patient

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=NY)  # Monday noon
TUESDAY_3PM = datetime(2026, 3, 3, 15, 0, tzinfo=NY).astimezone(UTC)


def rows(**filters: Any) -> list[Reminder]:
    db.session.expire_all()
    query = select(Reminder).order_by(Reminder.id)
    for name, value in filters.items():
        query = query.where(getattr(Reminder, name) == value)
    return list(db.session.scalars(query))


def by_channel(appointment_id: int) -> dict[str, Reminder]:
    return {r.channel: r for r in rows(appointment_id=appointment_id, status="pending")}


# ------------------------------------------------------------------------ planning


def test_booking_plans_an_email_24h_and_an_sms_2h_before(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM)
    planned = by_channel(appointment.id)
    assert planned["email"].due_at == TUESDAY_3PM - timedelta(hours=24)
    assert planned["sms"].due_at == TUESDAY_3PM - timedelta(hours=2)
    assert planned["email"].appointment_starts_at == TUESDAY_3PM


def test_only_consented_channels_with_an_address(app: Any, frozen: Any) -> None:
    no_sms = book(TUESDAY_3PM, reachable_patient(sms_ok=False))
    assert set(by_channel(no_sms.id)) == {"email"}
    no_email_address = book(TUESDAY_3PM, reachable_patient(email=None))
    assert set(by_channel(no_email_address.id)) == {"sms"}


def test_the_dst_example_24h_email_goes_at_the_same_local_time_the_day_before(
    app: Any,
) -> None:
    with time_machine.travel(datetime(2026, 3, 5, 12, 0, tzinfo=NY), tick=False):
        monday_9am = datetime(2026, 3, 9, 9, 0, tzinfo=NY).astimezone(UTC)
        appointment = book(monday_9am)
        email = by_channel(appointment.id)["email"]
    assert email.due_at == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # Sunday 09:00 EDT


def test_an_sms_due_in_quiet_hours_goes_the_evening_before(app: Any, frozen: Any) -> None:
    tuesday_9am = datetime(2026, 3, 3, 9, 0, tzinfo=NY).astimezone(UTC)
    appointment = book(tuesday_9am)
    sms = by_channel(appointment.id)["sms"]
    assert sms.due_at.astimezone(NY) == datetime(2026, 3, 2, 20, 30, tzinfo=NY)


def test_a_patient_time_zone_decides_the_quiet_hours(app: Any, frozen: Any) -> None:
    la = ZoneInfo("America/Los_Angeles")
    start = datetime(2026, 3, 3, 9, 30, tzinfo=la).astimezone(UTC)  # 12:30 in New York
    appointment = book(start, reachable_patient(timezone="America/Los_Angeles"))
    sms = by_channel(appointment.id)["sms"]
    assert sms.due_at.astimezone(la) == datetime(2026, 3, 2, 20, 30, tzinfo=la)


def test_booked_an_hour_before_the_reminders_go_now(app: Any, frozen: Any) -> None:
    appointment = book(NOW.astimezone(UTC) + timedelta(hours=1))
    planned = by_channel(appointment.id)
    assert planned["email"].due_at == NOW
    assert planned["sms"].due_at == NOW


def test_a_back_entered_past_appointment_is_skipped_not_sent(
    app: Any, frozen: Any, mail_server: MailServer
) -> None:
    appointment = book(NOW.astimezone(UTC) - timedelta(days=3))
    statuses = {r.channel: r.status for r in rows(appointment_id=appointment.id)}
    assert statuses == {"email": "skipped", "sms": "skipped"}
    assert dispatch_all(NOW).sent == 0
    assert mail_server.messages == []


def test_mapping_and_treatment_kinds_follow_the_policy(app: Any, frozen: Any) -> None:
    policy.update_policy({"remind_mapping": False}, actor_id=None)
    db.session.commit()
    mapping = book(TUESDAY_3PM, kind="mapping")
    assert rows(appointment_id=mapping.id) == []


def test_a_move_replaces_the_pending_reminders(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM)
    new_start = TUESDAY_3PM + timedelta(days=1)
    move(appointment, new_start)
    all_rows = rows(appointment_id=appointment.id)
    old = [r for r in all_rows if r.appointment_starts_at == TUESDAY_3PM]
    new = [r for r in all_rows if r.appointment_starts_at == new_start]
    assert {r.status for r in old} == {"cancelled"}
    assert {r.status for r in new} == {"pending"}
    assert {r.channel for r in new} == {"email", "sms"}


def test_moving_back_to_the_first_time_revives_its_rows(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM)
    move(appointment, TUESDAY_3PM + timedelta(hours=2))
    move(appointment, TUESDAY_3PM)
    pending = rows(appointment_id=appointment.id, status="pending")
    assert {(r.channel, r.appointment_starts_at) for r in pending} == {
        ("email", TUESDAY_3PM),
        ("sms", TUESDAY_3PM),
    }


def test_a_cancel_cancels_them(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM)
    cancel(appointment)
    assert {r.status for r in rows(appointment_id=appointment.id)} == {"cancelled"}


def test_withdrawn_consent_cancels_pending_on_that_channel_only(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM)
    patient = appointment.patient
    patient.sms_consent = False
    events.consent_changed.send(None, patient=patient, channel="sms", granted=False, actor_id=None)
    db.session.commit()
    statuses = {r.channel: r.status for r in rows(appointment_id=appointment.id)}
    assert statuses == {"email": "pending", "sms": "cancelled"}
    # Granted again: the upcoming appointment gets its SMS back.
    patient.sms_consent = True
    events.consent_changed.send(None, patient=patient, channel="sms", granted=True, actor_id=None)
    db.session.commit()
    assert set(by_channel(appointment.id)) == {"email", "sms"}


def test_the_sms_names_clinic_date_and_time_and_nothing_clinical(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM)
    text = by_channel(appointment.id)["sms"].payload["text"]
    assert "Northside Clinic" in text
    assert "Tuesday 3 March 2026" in text and "15:00" in text
    assert messages.clinical_words(text) == []
    assert appointment.course.protocol.name not in text


# ------------------------------------------------------------------------ delivery


def test_due_reminders_are_delivered_by_email_and_sms(
    app: Any, mail_server: MailServer, twilio_stub: TwilioStub, frozen: Any
) -> None:
    appointment = book(TUESDAY_3PM)
    patient = appointment.patient
    assert dispatch_all(NOW.astimezone(UTC)).sent == 0  # nothing due yet
    frozen.move_to(TUESDAY_3PM - timedelta(hours=1))
    counts = dispatch_all(TUESDAY_3PM - timedelta(hours=1))
    assert counts.sent == 2
    [mail] = mail_server.to(patient.email)
    assert mail["Subject"] == "Your appointment at Northside Clinic on Tuesday 3 March 2026"
    parts = {part.get_content_type(): part for part in mail.walk()}
    assert "15:00" in parts["text/plain"].get_payload(decode=True).decode()
    assert "<a href=" in parts["text/html"].get_payload(decode=True).decode()
    calendar = Calendar.from_ical(parts["text/calendar"].get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]).startswith(f"appointment-{appointment.id}@")
    assert int(event["SEQUENCE"]) == 0
    assert "Northside Clinic" in str(event["SUMMARY"])
    [sms] = twilio_stub.messages
    assert sms["To"] == patient.phone and sms["From"] == "+15005550006"
    assert "Northside Clinic" in sms["Body"] and "15:00" in sms["Body"]
    assert {r.status for r in rows(appointment_id=appointment.id)} == {"sent"}
    assert dispatch_all(TUESDAY_3PM).claimed == 0  # sent rows are never claimed again


def test_the_calendar_sequence_grows_with_each_move(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    appointment = book(TUESDAY_3PM)
    move(appointment, TUESDAY_3PM + timedelta(days=1))
    move(appointment, TUESDAY_3PM + timedelta(days=2))
    email = by_channel(appointment.id)["email"]
    event = Calendar.from_ical(email.payload["ics"]).walk("VEVENT")[0]
    assert int(event["SEQUENCE"]) == 2
    assert str(event["UID"]) == planning.calendar_uid(appointment.id)


def test_a_reminder_cancelled_after_it_was_planned_is_not_sent(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    appointment = book(NOW.astimezone(UTC) + timedelta(hours=1))
    # Cancelled without the signal (a path that forgot it): the re-check still catches it.
    appointment.status = "cancelled"
    db.session.commit()
    counts = dispatch_due(NOW.astimezone(UTC))
    assert counts.cancelled == 2 and counts.sent == 0
    assert mail_server.messages == []


def test_a_moved_appointment_is_rechecked_before_sending(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    appointment = book(NOW.astimezone(UTC) + timedelta(hours=1))
    appointment.starts_at += timedelta(days=2)
    appointment.ends_at += timedelta(days=2)
    db.session.commit()
    counts = dispatch_due(NOW.astimezone(UTC))
    assert counts.skipped == 2 and mail_server.messages == []


def test_mail_server_down_for_three_passes_then_delivered_once(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    appointment = book(NOW.astimezone(UTC) + timedelta(hours=6), reachable_patient(sms_ok=False))
    mail_server.stop()
    now = NOW.astimezone(UTC)
    for _ in range(3):
        counts = dispatch_all(now)
        assert counts.retrying == 1 and counts.sent == 0
        [row] = rows(appointment_id=appointment.id)
        assert row.status == "pending" and "unreachable" in (row.last_error or "")
        assert row.next_attempt_at > now
        now = row.next_attempt_at
        frozen.move_to(now)
    mail_server.start()
    assert dispatch_all(now).sent == 1
    frozen.move_to(now + LEASE * 3)
    assert dispatch_all(now + LEASE * 3).claimed == 0
    assert mail_server.references() == [f"reminder-{row.id}"]
    [row] = rows(appointment_id=appointment.id)
    assert row.status == "sent" and row.attempts == 4


def test_retries_back_off_exponentially_with_jitter() -> None:
    delays = [sending.retry_delay(n).total_seconds() for n in range(1, 6)]
    for n, delay in enumerate(delays):
        assert 60 * 2**n * 0.75 <= delay <= 60 * 2**n * 1.25
    assert sending.retry_delay(30) <= sending.RETRY_CAP * 1.25


def test_after_the_last_attempt_the_row_fails_and_the_front_desk_is_told(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    appointment = book(NOW.astimezone(UTC) + timedelta(days=5), reachable_patient(sms_ok=False))
    row_id = rows(appointment_id=appointment.id)[0].id
    db.session.execute(
        Reminder.__table__.update()
        .where(Reminder.id == row_id)
        .values(next_attempt_at=NOW.astimezone(UTC))
    )
    db.session.commit()
    mail_server.stop()
    now = NOW.astimezone(UTC)
    for _ in range(MAX_ATTEMPTS):
        dispatch_all(now)
        now += timedelta(hours=2)
        frozen.move_to(now)
    [row] = rows(id=row_id)
    assert row.status == "failed" and row.attempts == MAX_ATTEMPTS
    alert = db.session.scalar(select(Alert).where(Alert.kind == "reminder_failed"))
    assert alert is not None and alert.audience == "front_desk"
    assert alert.patient_id == appointment.patient_id


def test_a_refused_number_fails_at_once(app: Any, twilio_stub: TwilioStub, frozen: Any) -> None:
    book(NOW.astimezone(UTC) + timedelta(hours=1), reachable_patient(email_ok=False))
    twilio_stub.fail_with = 400
    counts = dispatch_all(NOW.astimezone(UTC))
    assert counts.failed == 1


# ----------------------------------------------------- dying dispatchers, many dispatchers


def _due_now(count: int) -> list[int]:
    now = NOW.astimezone(UTC)
    ids = []
    for i in range(count):
        appointment = book(
            now + timedelta(hours=1, minutes=10 * i), reachable_patient(sms_ok=False)
        )
        ids.append(appointment.id)
    db.session.execute(Reminder.__table__.update().values(next_attempt_at=now, due_at=now))
    db.session.commit()
    return ids


def test_a_dispatch_finds_its_reminders_by_an_index(
    app: Any, mail_server: MailServer, frozen: Any, count_queries: Any
) -> None:
    """Sent reminders are kept for good, so a statement that reads the outbox without an
    index gets slower with every message ever sent: the claim picked its batch by
    statuses the open rows' index could not be proved to cover, and read the batch back
    by the claim token, which nothing indexes; both went through the whole table."""
    _due_now(3)
    with count_queries() as sent:
        assert dispatch_all(NOW.astimezone(UTC), workers=1).sent == 3
    assert sent.count
    assert sent.whole_table_reads("reminders", but="ix_reminders_open_next_attempt") == []


def test_a_dispatcher_killed_mid_batch_loses_nothing(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    _due_now(5)
    now = NOW.astimezone(UTC)
    # A dispatcher claims the batch, then dies before sending or marking anything.
    _, claimed = claim_due(now, batch_size=10)
    assert len(claimed) == 5
    assert dispatch_all(now).claimed == 0  # within the lease nobody else takes them
    later = now + LEASE + timedelta(seconds=1)
    frozen.move_to(later)
    assert dispatch_all(later).sent == 5
    assert sorted(mail_server.references()) == sorted(f"reminder-{i}" for i in claimed)


def test_no_second_send_once_the_first_was_marked(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    _due_now(3)
    now = NOW.astimezone(UTC)
    assert dispatch_all(now).sent == 3
    # A restarted dispatcher long after the lease finds nothing to do.
    much_later = now + LEASE * 10
    frozen.move_to(much_later)
    assert dispatch_all(much_later).claimed == 0
    assert len(mail_server.messages) == 3


def test_a_stale_dispatcher_cannot_overwrite_the_rows_another_reclaimed(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    _due_now(1)
    now = NOW.astimezone(UTC)
    stale_token, [row_id] = claim_due(now, 10)
    later = now + LEASE * 2
    frozen.move_to(later)
    assert dispatch_all(later).sent == 1
    sending.mark(stale_token, [sending.Outcome(row_id, "failed", "late")])
    assert rows(id=row_id)[0].status == "sent"


def test_exactly_once_across_four_concurrent_dispatchers(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    import threading

    _due_now(60)
    now = NOW.astimezone(UTC)
    totals: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def dispatcher() -> None:
        try:
            with app.app_context():  # its own session and database connection
                start.wait()
                totals.append(dispatch_all(now, batch_size=5).sent)
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(totals) == 60
    references = mail_server.references()
    assert len(references) == 60 and len(set(references)) == 60
    assert {r.status for r in rows()} == {"sent"}


# ----------------------------------------------------------- other messages in the outbox


class _Link:
    def __init__(self, link_id: int, expires_at: datetime) -> None:
        self.id = link_id
        self.expires_at = expires_at


def test_questionnaire_links_go_by_the_preferred_channel(
    app: Any, twilio_stub: TwilioStub, frozen: Any
) -> None:
    patient = reachable_patient(preferred_channel="sms")
    link = _Link(41, NOW.astimezone(UTC) + timedelta(days=3))
    url = "http://127.0.0.1:5000/q/token-41"
    for deliver in (False, True, True):  # not asked, asked, asked again: one message
        events.questionnaire_link_created.send(
            None, link=link, url=url, patient=patient, course=None, deliver=deliver
        )
    db.session.commit()
    assert dispatch_all(NOW.astimezone(UTC)).sent == 1
    [sms] = twilio_stub.messages
    assert url in sms["Body"] and "Northside Clinic" in sms["Body"]


def test_alert_escalations_email_every_clinician(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    first, second = make_user("clinician"), make_user("clinician")
    make_user("front_desk")
    alert = Alert(kind="adverse_event", title="Seizure for J.R.", severity="urgent", status="open")
    db.session.add(alert)
    db.session.flush()
    events.alert_escalated.send(None, alert=alert)
    events.alert_escalated.send(None, alert=alert)  # a second scheduler: no duplicates
    db.session.commit()
    assert dispatch_all(NOW.astimezone(UTC)).sent == 2
    assert {m["To"] for m in mail_server.messages} == {first.email, second.email}
    body = mail_server.messages[0].get_body(("plain",)).get_content()
    assert "adverse event" in body and "J.R." not in body


def test_daily_schedule_for_opted_in_staff_once_a_day(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    technician = make_user("technician")
    make_user("technician")  # not opted in
    staff_messages.set_daily_schedule(technician.id, True, actor_id=technician.id)
    book(datetime(2026, 3, 2, 15, 0, tzinfo=NY).astimezone(UTC))
    morning = datetime(2026, 3, 2, 6, 30, tzinfo=NY).astimezone(UTC)
    frozen.move_to(morning)
    assert staff_messages.plan_daily_schedules(morning) == {"planned": 1}
    assert staff_messages.plan_daily_schedules(morning) == {"planned": 0}
    db.session.commit()
    dispatch_all(morning)
    [mail] = mail_server.to(technician.email)
    assert "15:00" in mail.get_body(("plain",)).get_content()


# -------------------------------------------------------------------------- STOP and links


def test_stop_withdraws_sms_consent_and_cancels_pending_sms(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM)
    patient = appointment.patient
    assert inbound_sms.handle_inbound_sms(patient.phone, " stop ") == 1
    db.session.commit()
    db.session.refresh(patient)
    assert patient.sms_consent is False
    event = db.session.scalar(select(ConsentEvent).where(ConsentEvent.patient_id == patient.id))
    assert event is not None and event.source == "sms_stop" and event.granted is False
    statuses = {r.channel: r.status for r in rows(appointment_id=appointment.id)}
    assert statuses == {"email": "pending", "sms": "cancelled"}
    assert inbound_sms.handle_inbound_sms(patient.phone, "hello") == 0


def test_confirm_and_change_through_signed_links(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM)
    values = planning.appointment_values(appointment, NY)
    confirm_token = values["confirm_url"].rsplit("/", 2)[-2]
    change_token = values["change_url"].rsplit("/", 2)[-2]
    answers.confirm_attendance(confirm_token)
    answers.confirm_attendance(confirm_token)  # a second click changes nothing
    answers.request_change(change_token, "Mornings please")
    db.session.commit()
    day = TUESDAY_3PM.astimezone(NY).date()
    start = datetime.combine(day, time(0), tzinfo=NY)
    on_the_board = answers.board_answers([appointment.id], start, start + timedelta(days=1))
    assert on_the_board.confirmed == on_the_board.change_requested == {appointment.id}
    [request] = answers.open_change_requests(start, start + timedelta(days=1))
    assert request.message == "Mornings please"
    with pytest.raises(Conflict):
        answers.request_change(change_token, "again")
    with pytest.raises(NotFound):
        answers.confirm_attendance(change_token)  # a change token cannot confirm


def test_template_preview_and_the_sms_rules(app: Any) -> None:
    preview = message_templates.preview_template(
        "appointment_reminder", "sms", "", "{clinic_name}: see you {date} at {time}."
    )
    assert preview.text == "Northside Clinic: see you Monday 9 March 2026 at 09:00."
    with pytest.raises(Invalid) as clinical:
        message_templates.preview_template(
            "appointment_reminder", "sms", "", "{clinic_name}: TMS treatment {date} {time}"
        )
    assert "tms" in clinical.value.fields["body"][0].lower()
    with pytest.raises(Invalid) as unknown:
        message_templates.update_template(
            "appointment_reminder", "email", subject="Hi", body="{diagnosis}", actor_id=None
        )
    assert "{diagnosis}" in unknown.value.fields["body"][0]
    with pytest.raises(Invalid):
        message_templates.preview_template(
            "appointment_reminder", "sms", "", "{clinic_name} {date}"
        )

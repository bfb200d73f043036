"""A session at a site in another zone (issue 16): its messages, the patient's link page
and the calendar file say the time on that site's clock, and quiet hours are read there,
for a patient without a zone of their own (a patient's own zone still wins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar
from sqlalchemy import select

from clinic.extensions import db
from clinic.reminders import planning
from clinic.reminders.dispatch import dispatch_all
from clinic.reminders.models import Reminder
from clinic.scheduling import booking_service, sites
from tests.factories import login, make_course, make_device
from tests.reminders.conftest import MailServer, TwilioStub, reachable_patient
from tests.scheduling.conftest import LA, make_la_site

NINE_IN_LA = datetime(2026, 3, 3, 9, 0, tzinfo=LA)  # Tuesday; 12:00 in New York


def book_in_la(patient: Any = None) -> Any:
    site = make_la_site()
    appointment = booking_service.book_appointment(
        make_course(patient or reachable_patient()),
        device_id=make_device("LA 1", site_id=site.id).id,
        starts_at=NINE_IN_LA,
        actor_id=None,
    )
    db.session.commit()
    return appointment


def planned(appointment: Any) -> dict[str, Reminder]:
    found = db.session.scalars(select(Reminder).where(Reminder.appointment_id == appointment.id))
    return {row.channel: row for row in found}


def test_the_messages_say_the_sites_time(app: Any, frozen: Any) -> None:
    rows = planned(book_in_la())
    for channel in ("email", "sms"):
        text = rows[channel].payload["text"]
        assert "09:00" in text and "12:00" not in text, channel
    # The SMS two hours before would fall at 07:00 in Los Angeles, in quiet hours there:
    # it goes at 20:30 the evening before on the site's clock (not New York's).
    assert rows["sms"].due_at.astimezone(LA) == datetime(2026, 3, 2, 20, 30, tzinfo=LA)


def test_a_patients_own_zone_still_wins(app: Any, frozen: Any) -> None:
    rows = planned(book_in_la(reachable_patient(timezone="America/New_York")))
    assert "12:00" in rows["sms"].payload["text"]


def test_delivered_at_the_sites_evening_with_its_time_and_calendar_file(
    app: Any, frozen: Any, mail_server: MailServer, twilio_stub: TwilioStub
) -> None:
    book_in_la()
    evening = datetime(2026, 3, 2, 20, 30, tzinfo=LA).astimezone(UTC)
    frozen.move_to(evening)
    # At 23:30 in New York the send-time check reads quiet hours on the site's clock too.
    assert dispatch_all(evening).sent == 2
    [sms] = twilio_stub.messages
    assert "09:00" in sms["Body"]
    [mail] = mail_server.messages
    parts = {part.get_content_type(): part for part in mail.walk()}
    assert "09:00" in parts["text/plain"].get_payload(decode=True).decode()
    [event] = Calendar.from_ical(parts["text/calendar"].get_payload(decode=True)).walk("VEVENT")
    assert event.decoded("dtstart") == NINE_IN_LA
    assert event.decoded("dtstart").astimezone(LA).hour == 9


def test_the_patients_link_page_and_calendar_download(client: Any, frozen: Any) -> None:
    appointment = book_in_la()
    values = planning.appointment_values(appointment, LA)
    confirm = client.get(f"/r/{values['confirm_url'].rsplit('/', 2)[-2]}/confirm")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "09:00" in page and "12:00" not in page
    ics = client.get(f"/r/{values['ics_url'].rsplit('/', 2)[-2]}/calendar.ics")
    [event] = Calendar.from_ical(ics.get_data()).walk("VEVENT")
    assert event.decoded("dtstart") == NINE_IN_LA
    assert event.decoded("dtend") - event.decoded("dtstart") > timedelta(0)


def test_the_reminder_list_and_change_requests_are_per_site(
    client: Any, admin: Any, front_desk: Any, frozen: Any
) -> None:
    there = book_in_la(reachable_patient(first_name="Angeleno"))
    la = there.device.site_id
    values = planning.appointment_values(there, LA)
    assert client.post(f"/r/{values['change_url'].rsplit('/', 2)[-2]}/change").status_code == 200
    login(client, front_desk)
    first = client.get("/reminders?day=2026-03-02").get_data(as_text=True)
    assert "Angeleno" not in first and 'name="site_id"' in first
    at_la = client.get(f"/reminders?day=2026-03-02&site_id={la}").get_data(as_text=True)
    assert "Angeleno" in at_la and "20:30" in at_la  # the SMS, due on the site's clock
    assert "Angeleno" not in client.get("/reminders/change-requests").get_data(as_text=True)
    requests = client.get(f"/reminders/change-requests?site_id={la}").get_data(as_text=True)
    assert "Angeleno" in requests and "Tue 03 Mar 2026 09:00" in requests
    sites.set_user_sites(front_desk.id, [la], actor_id=admin.id)
    db.session.commit()
    assert "Angeleno" in client.get("/reminders?day=2026-03-02").get_data(as_text=True)
    assert client.get("/reminders?site_id=1").status_code == 403
    assert client.get("/reminders/change-requests?site_id=1").status_code == 403

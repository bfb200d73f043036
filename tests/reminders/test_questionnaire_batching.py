"""Questionnaires due together for one patient go out as ONE message, not one per form
(a patient got three emails and two texts in the same second); the reminders page says
whom each message goes to."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.extensions import db
from clinic.outcomes.cadence import plan_questionnaires
from clinic.outcomes.models import QuestionnaireAssignment
from clinic.outcomes.services import create_link
from clinic.reminders.dispatch import dispatch_all
from clinic.reminders.models import Reminder
from tests.factories import login, make_course
from tests.reminders.conftest import MailServer, TwilioStub, book, reachable_patient

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=NY).astimezone(UTC)


def _messages() -> list[Reminder]:
    db.session.expire_all()
    return list(db.session.scalars(select(Reminder).where(Reminder.kind == "questionnaire_link")))


def test_three_questionnaires_due_together_make_one_email(
    app: Any, mail_server: MailServer, frozen: Any
) -> None:
    patient = reachable_patient(preferred_channel="email")
    urls = [
        create_link(patient.id, code, deliver=True, at=NOW)[1]
        for code in ("PHQ-9", "GAD-7", "PEG-3")
    ]
    db.session.commit()
    [message] = _messages()
    assert message.recipient == patient.email
    assert dispatch_all(NOW).sent == 1
    [mail] = mail_server.messages
    body = mail.get_body(("plain",)).get_content()
    assert all(url in body for url in urls)


def test_the_scheduler_batches_a_patients_due_questionnaires_into_one_text(
    app: Any, twilio_stub: TwilioStub, frozen: Any
) -> None:
    patient = reachable_patient(preferred_channel="sms")
    other = reachable_patient(preferred_channel="sms")
    for someone in (patient, other):
        course = make_course(someone)
        for code in ("PHQ-9", "GAD-7"):
            db.session.add(
                QuestionnaireAssignment(
                    patient_id=someone.id,
                    course_id=course.id,
                    instrument=code,
                    reason="baseline",
                    due_on=date(2026, 3, 2),
                )
            )
    db.session.commit()
    assert plan_questionnaires(NOW) == 4
    db.session.commit()
    assert len(_messages()) == 2  # one per patient
    assert dispatch_all(NOW).sent == 2
    bodies = {m["To"]: m["Body"] for m in twilio_stub.messages}
    assert bodies[patient.phone].count("/q/") == 2


def test_the_reminders_page_shows_who_each_message_goes_to(
    client: Any, front_desk: Any, frozen: Any
) -> None:
    patient = reachable_patient(first_name="Rosa", phone="+16175550123")
    book(datetime(2026, 3, 3, 15, 0, tzinfo=NY).astimezone(UTC), patient=patient)
    login(client, front_desk)
    page = client.get("/reminders?day=2026-03-02").get_data(as_text=True)
    assert patient.email in page  # the email the day before
    assert "(617) 555-0123" in page or "Rosa" in page
    tuesday = client.get("/reminders?day=2026-03-03").get_data(as_text=True)
    assert "(617) 555-0123" in tuesday  # the text two hours before
    assert "Rosa" in tuesday

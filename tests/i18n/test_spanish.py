"""A Spanish-speaking patient: her language on the record, the published Spanish wording
of PHQ-9 and GAD-7, and the link page, crisis resources, reminders and calendar file in
Spanish. An English-speaking patient sees nothing change."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from clinic import i18n
from clinic.extensions import db
from clinic.patients.models import Patient
from clinic.reminders import message_templates
from clinic.reminders.models import Reminder
from tests.factories import PASSWORD, ApiClient, login, make_course, make_patient
from tests.outcomes.conftest import phq9
from tests.reminders.conftest import book, reachable_patient

NY = ZoneInfo("America/New_York")
TUESDAY_3PM = datetime(2026, 3, 3, 15, 0, tzinfo=NY).astimezone(UTC)


def instruments(api: ApiClient, user: Any, query: str = "") -> dict[str, Any]:
    answer = api.as_(user).get("/api/v1/instruments" + query)
    assert answer.status_code == 200, answer.get_json()
    return {item["code"]: item for item in answer.get_json()["items"]}


def test_instruments_in_spanish_use_the_authors_published_wording(
    api: ApiClient, technician: Any
) -> None:
    spanish = instruments(api, technician, "?lang=es")
    phq = spanish["PHQ-9"]
    assert phq["language"] == "es"
    assert phq["preamble"].startswith("Durante las últimas 2 semanas")
    assert phq["items"][0]["text"] == "Poco interés o placer en hacer cosas"
    assert phq["items"][8]["text"] == (
        "Pensamientos de que estaría mejor muerto(a) o de lastimarse de alguna manera"
    )
    assert [c["label"] for c in phq["items"][0]["choices"]] == [
        "Ningún día",
        "Varios días",
        "Más de la mitad de los días",
        "Casi todos los días",
    ]
    assert spanish["GAD-7"]["items"][0]["text"] == (
        "Se ha sentido nervioso(a), ansioso(a) o con los nervios de punta"
    )
    # No published Spanish version we can cite: English, and the answer says so.
    assert spanish["PEG-3"]["language"] == spanish["PROMIS-SD-8a"]["language"] == "en"
    # Scoring is the same whatever the language.
    english = instruments(api, technician)
    assert phq["loinc_panel"] == english["PHQ-9"]["loinc_panel"]
    assert english["PHQ-9"]["items"][0]["text"] == "Little interest or pleasure in doing things"


def test_an_unknown_language_is_a_422(api: ApiClient, technician: Any) -> None:
    answer = api.as_(technician).get("/api/v1/instruments?lang=fr")
    assert answer.status_code == 422
    assert "lang" in answer.get_json()["error"]["fields"]


def test_a_patients_language_is_english_by_default_and_can_be_changed(
    api: ApiClient, front_desk: Any
) -> None:
    created = api.as_(front_desk).post(
        "/api/v1/patients",
        json={"first_name": "Lucía", "last_name": "Gómez", "date_of_birth": "1975-02-01"},
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["language"] == "en"
    url = f"/api/v1/patients/{created.get_json()['id']}"
    changed = api.as_(front_desk).patch(url, json={"language": "es"})
    assert (changed.status_code, changed.get_json()["language"]) == (200, "es")
    assert api.as_(front_desk).get(url).get_json()["language"] == "es"
    wrong = api.as_(front_desk).patch(url, json={"language": "klingon"})
    assert wrong.status_code == 422
    assert "language" in wrong.get_json()["error"]["fields"]


def test_the_patient_form_sets_the_language(client: Any, front_desk: Any) -> None:
    patient = make_patient(first_name="Lucía")
    login(client, front_desk)
    page = client.get(f"/patients/{patient.id}/edit")
    assert page.status_code == 200
    assert 'name="language"' in page.get_data(as_text=True)
    answer = client.post(
        f"/patients/{patient.id}/edit",
        data={
            "first_name": "Lucía",
            "last_name": patient.last_name,
            "date_of_birth": "1980-05-17",
            "preferred_channel": "none",
            "language": "es",
        },
    )
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).language == "es"  # type: ignore[union-attr]


def _link(api: ApiClient, user: Any, patient_id: int, instrument: str = "PHQ-9") -> str:
    answer = api.as_(user).post(
        f"/api/v1/patients/{patient_id}/questionnaire-links", json={"instrument": instrument}
    )
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["url"]).split("127.0.0.1:5000", 1)[-1]


def _visible_text(html: str) -> str:
    body = re.sub(r"(?s)<(script|style|title)\b.*?</\1>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


ENGLISH_WORDS = re.compile(r"\b(the|your|you|and|please|hello|thank|answer|link|call)\b", re.I)


def test_a_spanish_patients_link_page_thanks_and_crisis_resources_are_spanish(
    client: Any, api: ApiClient, front_desk: Any
) -> None:
    course = make_course(make_patient(first_name="Lucía", language="es"))
    path = _link(api, front_desk, course.patient_id)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="es"' in html
    assert "Hola, Lucía" in html
    assert "Poco interés o placer en hacer cosas" in html
    assert "Ningún día" in html and "Enviar mis respuestas" in html
    assert not ENGLISH_WORDS.findall(_visible_text(html).replace("PHQ-9", ""))

    missing = client.post(path, data={})
    assert missing.status_code == 422
    assert "Elija una respuesta" in missing.get_data(as_text=True)

    answers = {f"item_{n}": v for n, v in enumerate(phq9(12, item9=1), start=1)}
    thanks = client.post(path, data=answers)
    text = thanks.get_data(as_text=True)
    assert thanks.status_code == 200
    assert "Gracias" in text and "Sus respuestas se enviaron" in text
    assert "No tiene que pasar por esto solo(a)" in text
    assert "marque 2" in text and "AYUDA" in text  # the Lifeline's Spanish service
    assert 'href="tel:988"' in text and 'href="tel:911"' in text
    assert not ENGLISH_WORDS.findall(_visible_text(text))

    again = client.get(path)
    assert again.status_code == 410
    assert "ya está respondido" in again.get_data(as_text=True)


def test_an_english_patients_link_page_stays_english(
    client: Any, api: ApiClient, front_desk: Any
) -> None:
    course = make_course(make_patient(first_name="Robin"))
    html = client.get(_link(api, front_desk, course.patient_id)).get_data(as_text=True)
    assert '<html lang="en"' in html and "Hello Robin" in html
    assert "Little interest or pleasure in doing things" in html
    assert "marque 2" not in html


def test_an_unknown_link_answers_in_the_browsers_language(client: Any) -> None:
    spanish = client.get("/q/nope", headers={"Accept-Language": "es-US,es;q=0.9"})
    assert spanish.status_code == 404
    assert "Este enlace no funciona" in spanish.get_data(as_text=True)
    english = client.get("/q/nope")
    assert "This link does not work" in english.get_data(as_text=True)


def test_a_spanish_patients_reminders_and_calendar_file_are_spanish(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM, reachable_patient(first_name="Lucía", language="es"))
    planned = {
        r.channel: r
        for r in db.session.scalars(
            select(Reminder).where(Reminder.appointment_id == appointment.id)
        )
    }
    email, sms = planned["email"].payload, planned["sms"].payload
    assert email["subject"] == "Su cita en Clinic el martes 3 de marzo de 2026"
    assert email["text"].startswith("Hola, Lucía:")
    assert "a las 15:00" in email["text"] and "Pida un cambio" in email["text"]
    assert sms["text"].startswith("Clinic: le recordamos su cita el martes 3 de marzo de 2026")
    assert "STOP" in sms["text"]
    event = Calendar.from_ical(email["ics"]).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Cita en Clinic"


def test_an_english_patients_reminder_keeps_the_admins_template(app: Any, frozen: Any) -> None:
    appointment = book(TUESDAY_3PM + timedelta(days=1), reachable_patient())
    email = db.session.scalar(
        select(Reminder).where(
            Reminder.appointment_id == appointment.id, Reminder.channel == "email"
        )
    )
    assert email is not None
    assert email.payload["subject"].startswith("Your appointment at Clinic on Wednesday")
    assert "Appointment at Clinic" in email.payload["ics"]


def test_a_spanish_questionnaire_link_message(api: ApiClient, front_desk: Any) -> None:
    patient = reachable_patient(first_name="Lucía", language="es")
    course = make_course(patient)
    answer = api.as_(front_desk).post(
        f"/api/v1/patients/{course.patient_id}/questionnaire-links",
        json={"instrument": "PHQ-9", "deliver": True},
    )
    assert answer.status_code == 201
    row = db.session.scalar(select(Reminder).where(Reminder.patient_id == patient.id))
    assert row is not None
    assert row.payload["subject"] == "Clinic: un cuestionario breve para usted"
    assert "le pide que responda un cuestionario breve" in row.payload["text"]


def test_the_shipped_english_words_are_the_templates_the_migration_wrote(app: Any) -> None:
    templates = message_templates.list_templates()
    assert len(templates) == 4
    with i18n.speaking("en"):
        for template in templates:
            assert message_templates.default_words(template.kind, template.channel) == (
                template.subject,
                template.body,
            )


def test_a_spanish_patient_confirms_and_asks_for_a_change_in_spanish(
    client: Any, frozen: Any
) -> None:
    appointment = book(TUESDAY_3PM, reachable_patient(first_name="Lucía", language="es"))
    email = db.session.scalar(
        select(Reminder).where(
            Reminder.appointment_id == appointment.id, Reminder.channel == "email"
        )
    )
    assert email is not None
    confirm, change = (
        re.search(rf"{label}: (\S+)", email.payload["text"]).group(1)  # type: ignore[union-attr]
        for label in ("Por favor, confirme que vendrá", "Pida un cambio")
    )
    page = client.get(confirm.split("127.0.0.1:5000", 1)[1]).get_data(as_text=True)
    assert "Lucía, su cita es el <strong>martes 3 de marzo de 2026</strong>" in page
    assert "Sí, asistiré" in page
    done = client.post(confirm.split("127.0.0.1:5000", 1)[1], data={})
    assert "Gracias, hasta entonces." in done.get_data(as_text=True)
    change_path = change.split("127.0.0.1:5000", 1)[1]
    asked = client.post(change_path, data={"message": "Por la tarde"})
    assert "La recepción se comunicará con usted" in asked.get_data(as_text=True)
    again = client.post(change_path, data={"message": "Otra vez"})
    assert again.status_code == 409
    assert "Ya recibimos su solicitud" in again.get_data(as_text=True)


def test_a_forged_reminder_link_answers_in_the_browsers_language(client: Any) -> None:
    answer = client.get("/r/forged/confirm", headers={"Accept-Language": "es"})
    assert answer.status_code == 404
    assert "Este enlace no es válido" in answer.get_data(as_text=True)


def test_tablet_mode_speaks_the_patients_spanish(client: Any, front_desk: Any) -> None:
    course = make_course(make_patient(first_name="Lucía", language="es"))
    login(client, front_desk)
    client.post(f"/patients/{course.patient_id}/tablet", data={"tablet-instrument": "GAD-7"})
    html = client.get("/tablet").get_data(as_text=True)
    assert "Hola, Lucía" in html and "devuelva la tableta" in html
    assert "Se ha sentido nervioso(a), ansioso(a) o con los nervios de punta" in html
    answers = {f"item_{n}": 1 for n in range(1, 8)}
    done = client.post("/tablet", data=answers, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "Gracias" in text and "Por favor, devuelva la tableta al personal" in text
    # Staff pages stay English.
    client.post("/tablet/done", data={"password": PASSWORD})
    alerts = client.get("/alerts")
    assert alerts.status_code == 200 and '<html lang="en"' in alerts.get_data(as_text=True)

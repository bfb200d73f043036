"""The clinician's inbox and the navigation badge: an open suicidal-ideation alert is on a
clinician's home page and counted on every page, with the patient's phone at hand."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from clinic.alerts.models import Alert
from clinic.extensions import db
from clinic.outcomes.services import record_response
from clinic.patients.screening import SCREENING_ITEMS, record_screening
from tests.factories import login, make_patient, make_user

PHQ9_ITEM9_YES = [1, 1, 1, 1, 1, 1, 1, 1, 2]


def _badge(page: str) -> int:
    found = re.search(r'class="nav-badge" data-count="(\d+)"', page)
    return int(found.group(1)) if found else 0


def _two_alerts() -> list[Any]:
    patients = [
        make_patient(first_name="Ada", phone="+12125550123"),
        make_patient(first_name="Bo", phone="+442079460958"),
    ]
    for patient in patients:
        record_response(patient.id, "PHQ-9", PHQ9_ITEM9_YES, None, "staff", None)
    db.session.commit()
    return patients


def test_open_suicidal_ideation_alerts_are_on_the_home_page_and_counted_in_the_menu(
    client: FlaskClient, clinician: Any
) -> None:
    _two_alerts()
    login(client, clinician)
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/inbox")
    page = client.get("/inbox").get_data(as_text=True)
    assert "Ada" in page and "Bo" in page
    assert "(212) 555-0123" in page  # national format at home
    assert "+44 20 7946 0958" in page  # international abroad
    assert 'href="tel:+12125550123"' in page
    assert _badge(page) == 2
    # Every clinician sees the count on every page, not only the prescriber.
    other = make_user("clinician")
    client.post("/logout")
    login(client, other)
    assert _badge(client.get("/patients/").get_data(as_text=True)) == 2


def test_answering_an_alert_from_the_inbox_stays_in_the_inbox(
    client: FlaskClient, clinician: Any
) -> None:
    _two_alerts()
    login(client, clinician)
    alert = db.session.scalars(select(Alert)).first()
    done = client.post(
        f"/alerts/{alert.id}/acknowledge",
        data={
            "note": "Called the patient; safety plan reviewed.",
            "next": "/inbox",
            # An item-9 alert closes only with the clinician's ASQ screen (all no here).
            "risk_screen": "y",
            **{f"asq_{n}": "no" for n in range(1, 5)},
        },
    )
    assert done.status_code == 302 and done.headers["Location"] == "/inbox"
    assert _badge(client.get("/inbox").get_data(as_text=True)) == 1


def test_the_alert_card_shows_the_patients_phone(client: FlaskClient, front_desk: Any) -> None:
    _two_alerts()
    login(client, front_desk)
    page = client.get("/alerts").get_data(as_text=True)
    assert "(212) 555-0123" in page
    assert _badge(page) == 2


def test_the_inbox_lists_screenings_to_sign_off(client: FlaskClient, clinician: Any) -> None:
    patient = make_patient(first_name="Cleo", screened=None)
    answers = {item.code: item.item_class == "relative" for item in SCREENING_ITEMS}
    record_screening(patient.id, answers, None, actor_id=None)
    db.session.commit()
    login(client, clinician)
    page = client.get("/inbox").get_data(as_text=True)
    assert 'Screenings to sign off <span class="count">(1)' in page
    assert "Cleo" in page and "/sign-off" in page


def _course_with_phq9(first_name: str, later: list[int], frozen: Any) -> Any:
    from datetime import timedelta

    from clinic import clock
    from tests.factories import make_appointment, make_course

    course = make_course(make_patient(first_name=first_name), planned_sessions=30)
    record_response(
        course.patient_id, "PHQ-9", [3, 3, 3, 3, 2, 2, 1, 1, 0], course.id, "staff", None
    )
    start = clock.now() + timedelta(days=1)
    for n in range(10):
        make_appointment(course, start + timedelta(days=n), sequence=n + 1, status="completed")
    frozen.move_to(start + timedelta(days=12))
    record_response(course.patient_id, "PHQ-9", later, course.id, "staff", None)
    db.session.commit()
    return course


def test_the_inbox_lists_courses_not_improving_by_session_10(
    client: FlaskClient, clinician: Any, frozen: Any
) -> None:
    stuck = _course_with_phq9("Stuck", [3, 3, 3, 3, 2, 2, 1, 0, 0], frozen)  # 18 -> 17
    frozen.move_to("2026-03-02T17:00:00Z")
    better = _course_with_phq9("Better", [1, 1, 1, 1, 1, 1, 1, 1, 0], frozen)  # 18 -> 8
    login(client, clinician)
    page = client.get("/inbox").get_data(as_text=True)
    section = page[page.index("Courses not improving") :]
    assert f"/courses/{stuck.id}" in section and "checkpoint 10" in section
    assert "18 → 17" in section
    assert f"/courses/{better.id}" not in section


def test_the_inbox_is_titled_inbox_and_lists_each_section_once(
    client: FlaskClient, clinician: Any
) -> None:
    login(client, clinician)
    page = client.get("/inbox").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title is not None and title.group(1).startswith("Inbox ·")
    for section in ("inbox-alerts", "inbox-screenings", "inbox-logs", "inbox-courses"):
        assert page.count(f'id="{section}"') == 1, section

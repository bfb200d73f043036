"""Pages: the patient link, tablet mode, staff entry and the outcomes report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clinic.alerts.models import Alert
from clinic.auth.models import LoginAttempt
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes import services
from clinic.outcomes.models import QuestionnaireResponse
from tests.factories import PASSWORD, login
from tests.outcomes.conftest import START, deliver, phq9


def form_of(answers: list[int]) -> dict[str, str]:
    return {f"item_{n}": str(value) for n, value in enumerate(answers, start=1)}


def new_link(course: Course, instrument: str = "PHQ-9") -> str:
    _link, url = services.create_link(course.patient_id, instrument)
    db.session.commit()
    return "/q/" + url.rsplit("/", 1)[1]


def alert_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Alert)) or 0


# The patient's link --------------------------------------------------------------------


def test_the_link_page_shows_only_the_first_name_and_the_questionnaire(
    client: FlaskClient, course: Course
) -> None:
    path = new_link(course)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Hello Robin" in html and course.patient.last_name not in html
    assert course.patient.mrn not in html
    assert "Over the last 2 weeks" in html and "Nearly every day" in html
    assert "Thoughts that you would be better off dead" in html
    assert html.count("<fieldset") == 9 and html.count("<legend>") == 9
    assert "Log out" not in html and "Patients" not in html


def test_submitting_thanks_the_patient_then_the_link_is_gone(
    client: FlaskClient, course: Course
) -> None:
    path = new_link(course)
    done = client.post(path, data=form_of(phq9(7)))
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert "Thank you" in html and "crisis" not in html
    again = client.get(path)
    assert again.status_code == 410
    assert "already been answered" in again.get_data(as_text=True)
    assert client.post(path, data=form_of(phq9(7))).status_code == 410


def test_item_9_on_the_link_shows_crisis_resources_and_opens_an_alert(
    client: FlaskClient, course: Course
) -> None:
    done = client.post(new_link(course), data=form_of(phq9(9, item9=1)))
    html = done.get_data(as_text=True)
    assert 'class="crisis"' in html and "988" in html and "911" in html
    assert alert_count() == 1


def test_an_expired_link_says_so_kindly(client: FlaskClient, course: Course) -> None:
    with time_machine.travel(START, tick=False):
        path = new_link(course)
    with time_machine.travel(START + timedelta(days=7, seconds=1), tick=False):
        page = client.get(path)
    assert page.status_code == 410
    assert "expired" in page.get_data(as_text=True)
    assert client.get("/q/not-a-token").status_code == 404


def test_a_missing_answer_is_explained_and_keeps_the_link(
    client: FlaskClient, course: Course
) -> None:
    path = new_link(course)
    answers = form_of(phq9(5))
    del answers["item_4"]
    page = client.post(path, data=answers)
    assert page.status_code == 422
    assert "Please choose an answer." in page.get_data(as_text=True)
    assert client.get(path).status_code == 200


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.dictionaries(
        st.sampled_from([f"item_{n}" for n in range(1, 11)] + ["csrf_token", "x"]),
        st.text(max_size=30) | st.integers(-(10**20), 10**20).map(str),
        max_size=11,
    )
)
def test_fuzzed_patient_forms_never_5xx(client: FlaskClient, course: Course, data: Any) -> None:
    path = new_link(course, "GAD-7")
    answer = client.post(path, data=data)
    assert answer.status_code in (200, 422), answer.status_code
    responses = db.session.scalar(select(func.count()).select_from(QuestionnaireResponse))
    assert responses == (1 if answer.status_code == 200 else 0)
    db.session.execute(QuestionnaireResponse.__table__.delete())
    db.session.commit()


# Tablet mode ---------------------------------------------------------------------------


def test_tablet_mode_shows_only_the_questionnaire_and_locks_back(
    client: FlaskClient, front_desk: Any, course: Course
) -> None:
    login(client, front_desk)
    started = client.post(
        f"/patients/{course.patient_id}/tablet", data={"tablet-instrument": "PHQ-9"}
    )
    assert started.status_code == 302 and started.headers["Location"].endswith("/tablet")
    page = client.get("/tablet")
    html = page.get_data(as_text=True)
    assert "Hello Robin" in html and course.patient.last_name not in html
    assert "Log out" not in html
    # The patient cannot wander into staff pages.
    assert client.get("/alerts").headers["Location"].endswith("/tablet")
    done = client.post("/tablet", data=form_of(phq9(10, item9=3)), follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "hand the tablet back" in html.lower() and 'class="crisis"' in html
    assert alert_count() == 1
    response = db.session.scalar(select(QuestionnaireResponse))
    assert response is not None
    assert (response.source, response.entered_by_id) == ("tablet", front_desk.id)
    # Still locked: the questionnaire is not offered again and staff pages stay closed.
    assert client.get("/tablet").headers["Location"].endswith("/tablet/done")
    assert client.get(f"/patients/{course.patient_id}/responses").status_code == 302
    wrong = client.post("/tablet/done", data={"password": "not the password"})
    assert wrong.status_code == 401
    # Refused, yet kept: the failure counts towards the sign-in throttle.
    failures = select(func.count()).select_from(LoginAttempt).where(~LoginAttempt.success)
    assert db.session.scalar(failures) == 1
    unlocked = client.post("/tablet/done", data={"password": PASSWORD})
    assert unlocked.headers["Location"].endswith(f"/patients/{course.patient_id}/responses")
    assert client.get("/alerts").status_code == 200


# Staff entry on the chart --------------------------------------------------------------


def test_staff_entry_saves_and_warns_on_item_9(
    client: FlaskClient, technician: Any, course: Course
) -> None:
    login(client, technician)
    form = client.get(f"/patients/{course.patient_id}/responses/new?instrument=PEG-3")
    assert form.status_code == 200 and "Pain as bad as you can imagine" in form.get_data(
        as_text=True
    )
    saved = client.post(
        f"/patients/{course.patient_id}/responses/new?instrument=PHQ-9",
        data=form_of(phq9(21, item9=3)),
        follow_redirects=True,
    )
    html = saved.get_data(as_text=True)
    assert "score 21 (severe)" in html and "urgent alert was opened" in html
    assert alert_count() == 1
    assert db.session.scalar(select(QuestionnaireResponse.source)) == "staff"


def test_staff_create_a_link_and_see_its_url_once(
    client: FlaskClient, front_desk: Any, course: Course, app: Flask
) -> None:
    login(client, front_desk)
    page = client.post(
        f"/patients/{course.patient_id}/questionnaire-links", data={"link-instrument": "GAD-7"}
    )
    assert page.status_code == 201
    assert app.config["CLINIC_BASE_URL"] + "/q/" in page.get_data(as_text=True)
    listing = client.get(f"/patients/{course.patient_id}/responses")
    assert "/q/" not in listing.get_data(as_text=True)


def test_the_chart_shows_due_questionnaires(
    client: FlaskClient, front_desk: Any, course: Course
) -> None:
    from clinic.outcomes import cadence

    cadence.ensure_baseline(course)
    db.session.commit()
    login(client, front_desk)
    html = client.get(f"/patients/{course.patient_id}/responses").get_data(as_text=True)
    assert "Questionnaires due" in html and "GAD-7" in html and "baseline" in html


def test_the_course_outcome_panel_draws_mood_and_pain_inline(course: Course) -> None:
    deliver(course, 1)
    services.record_response(course.patient_id, "PHQ-9", phq9(12), None, "staff", None)
    html = render_template_string('{% include "outcomes/_course_outcomes.html" %}', course=course)
    assert "<svg" in html and "<script" not in html
    assert 'data-code="PHQ-9"' in html and 'data-code="PEG-3"' in html
    assert '<th scope="row">GAD-7</th>' in html

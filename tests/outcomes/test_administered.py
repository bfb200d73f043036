"""When the patient answered (`administered_at`, CONTRACT 4 and 8) decides the baseline.

Wrong before: answers were stamped with the time they were typed and the baseline had to
precede the first treatment's scheduled start, so a PHQ-9 taken at check-in after the
start, or a paper form entered later, never counted: the course had no result.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient

from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes.models import QuestionnaireResponse
from tests.factories import ApiClient, login, make_appointment
from tests.outcomes.conftest import START, deliver, phq9
from tests.treatments.conftest import add_mt, body


def responses_url(course: Course) -> str:
    return f"/api/v1/patients/{course.patient_id}/responses"


def outcome(client: Any, course: Course) -> dict[str, Any]:
    answer = client.get(f"/api/v1/courses/{course.id}/outcomes")
    assert answer.status_code == 200
    instruments: dict[str, Any] = answer.get_json()["instruments"]
    return instruments["PHQ-9"]


def test_a_phq9_at_check_in_after_the_start_is_the_baseline(
    api: ApiClient, technician: Any, course: Course
) -> None:
    client = api.as_(technician)
    add_mt(course, 50, at=START - timedelta(days=1))
    first = make_appointment(course, START)  # 09:00; the patient arrives 09:20
    with time_machine.travel(START + timedelta(minutes=20), tick=False):
        assert client.post(f"/api/v1/appointments/{first.id}/check-in", json={}).status_code == 200
        taken = client.post(
            responses_url(course), json={"instrument": "PHQ-9", "answers": phq9(20)}
        )
        assert taken.status_code == 201
    with time_machine.travel(START + timedelta(minutes=65), tick=False):
        logged = client.post(f"/api/v1/appointments/{first.id}/treatment", json=body())
        assert logged.status_code == 201
        # Answered after the log the same day: already under treatment, not the baseline.
        client.post(responses_url(course), json={"instrument": "PHQ-9", "answers": phq9(17)})
    with time_machine.travel(START + timedelta(days=5), tick=False):
        client.post(responses_url(course), json={"instrument": "PHQ-9", "answers": phq9(9)})
    phq = outcome(client, course)
    assert (phq["baseline"], phq["latest"], phq["response"]) == (20, 9, True)


def test_a_paper_form_entered_later_keeps_its_day(
    api: ApiClient, front_desk: Any, course: Course
) -> None:
    client = api.as_(front_desk)
    deliver(course, 5)  # 3 to 7 March 2025
    paper = client.post(
        responses_url(course),
        json={
            "instrument": "PHQ-9",
            "answers": phq9(18),
            "administered_at": "2025-02-28T10:30:00-05:00",
        },
    )
    assert paper.status_code == 201
    assert paper.get_json()["administered_at"] == "2025-02-28T15:30:00+00:00"
    assert paper.get_json()["answered_at"] != paper.get_json()["administered_at"]
    client.post(
        responses_url(course),
        json={"instrument": "PHQ-9", "answers": phq9(6), "administered_at": "2025-03-10T09:00Z"},
    )
    phq = outcome(client, course)
    assert (phq["baseline"], phq["latest"], phq["change_pct"]) == (18, 6, -66.7)


def test_administered_at_is_never_in_the_future_and_needs_an_offset(
    api: ApiClient, front_desk: Any, course: Course, frozen: Any
) -> None:
    client = api.as_(front_desk)
    tomorrow = client.post(
        responses_url(course),
        json={"instrument": "PHQ-9", "answers": phq9(5), "administered_at": "2026-03-03T17:00Z"},
    )
    assert tomorrow.status_code == 422
    assert "administered_at" in tomorrow.get_json()["error"]["fields"]
    naive = client.post(
        responses_url(course),
        json={"instrument": "PHQ-9", "answers": phq9(5), "administered_at": "2026-03-01T09:00"},
    )
    assert naive.status_code == 422
    now = client.post(responses_url(course), json={"instrument": "PHQ-9", "answers": phq9(5)})
    assert now.get_json()["administered_at"] == "2026-03-02T17:00:00+00:00"


def test_the_staff_entry_page_takes_when_the_form_was_filled_in(
    client: FlaskClient, front_desk: Any, course: Course, frozen: Any
) -> None:
    login(client, front_desk)
    url = f"/patients/{course.patient_id}/responses/new?instrument=PHQ-9"
    page = client.get(url).get_data(as_text=True)
    assert 'name="administered_at"' in page
    answers = {f"item_{n}": str(v) for n, v in enumerate(phq9(12), start=1)}
    future = client.post(url, data={**answers, "administered_at": "2026-03-05T09:00"})
    assert future.status_code == 422 and "Must not be in the future" in future.get_data(True)
    saved = client.post(url, data={**answers, "administered_at": "2026-02-27T08:45"})
    assert saved.status_code == 302
    response = db.session.query(QuestionnaireResponse).one()
    assert response.administered_at.isoformat() == "2026-02-27T13:45:00+00:00"  # EST

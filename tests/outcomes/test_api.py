"""The outcomes JSON API: instruments, responses, links and course outcomes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clinic.alerts.models import Alert
from clinic.audit.models import AuditEvent
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes.models import QuestionnaireResponse
from tests.factories import ApiClient
from tests.outcomes.conftest import START, deliver, phq9


def responses_url(course: Course) -> str:
    return f"/api/v1/patients/{course.patient_id}/responses"


def test_instruments_list_the_questionnaires(api: ApiClient, technician: Any) -> None:
    answer = api.as_(technician).get("/api/v1/instruments")
    assert answer.status_code == 200
    items = {i["code"]: i for i in answer.get_json()["items"]}
    assert set(items) == {"PHQ-9", "GAD-7", "PEG-3", "PROMIS-SD-8a"}
    phq = items["PHQ-9"]
    assert (phq["loinc_panel"], phq["loinc_score"]) == ("44249-1", "44261-6")
    assert phq["items"][8]["text"].startswith("Thoughts that you would be better off dead")
    assert {"number", "text", "min", "max"} <= set(phq["items"][0])


def test_posting_a_response_scores_it(api: ApiClient, front_desk: Any, course: Course) -> None:
    answer = api.as_(front_desk).post(
        responses_url(course), json={"instrument": "PHQ-9", "answers": phq9(17)}
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["score"], body["severity"], body["flags"]) == (17, "moderately severe", [])
    assert body["course_id"] == course.id
    peg = api.as_(front_desk).post(
        responses_url(course),
        json={"instrument": "PEG-3", "answers": [5, 5, 6], "course_id": course.id},
    )
    assert peg.get_json()["score"] == 5.3


def test_item_9_via_the_api_flags_and_alerts(
    api: ApiClient, technician: Any, clinician: Any, course: Course
) -> None:
    answer = api.as_(technician).post(
        responses_url(course), json={"instrument": "PHQ-9", "answers": phq9(6, item9=2)}
    )
    assert answer.status_code == 201
    assert answer.get_json()["flags"] == ["suicidal_ideation"]
    alerts = api.as_(technician).get("/api/v1/alerts?status=open").get_json()["items"]
    assert len(alerts) == 1
    assert alerts[0]["kind"] == "suicidal_ideation"
    assert alerts[0]["severity"] == "urgent"
    assert alerts[0]["assigned_to_id"] == clinician.id
    assert alerts[0]["patient_id"] == course.patient_id


def test_listing_responses_is_an_audited_view(
    api: ApiClient, technician: Any, course: Course
) -> None:
    client = api.as_(technician)
    client.post(responses_url(course), json={"instrument": "GAD-7", "answers": [1] * 7})
    listed = client.get(responses_url(course))
    assert [r["instrument"] for r in listed.get_json()["items"]] == ["GAD-7"]
    view = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "view", AuditEvent.actor_id == technician.id)
    )
    assert view is not None and view.patient_id == course.patient_id


def test_bad_responses_get_422_with_fields(api: ApiClient, admin: Any, course: Course) -> None:
    client = api.as_(admin)
    cases = [
        ({"instrument": "PHQ-9", "answers": [1] * 8}, "answers"),
        ({"instrument": "PHQ-9", "answers": [1.5] * 9}, "answers.0"),
        ({"instrument": "NOPE", "answers": [1] * 9}, "instrument"),
        ({"answers": [1] * 9}, "instrument"),
        ({"instrument": "PHQ-9", "answers": [1] * 9, "extra": 1}, "extra"),
        ({"instrument": "PHQ-9", "answers": [1] * 9, "course_id": 2**40}, "course_id"),
    ]
    for body, field in cases:
        answer = client.post(responses_url(course), json=body)
        assert answer.status_code == 422, (body, answer.get_json())
        assert field in answer.get_json()["error"]["fields"], (body, answer.get_json())
    missing = client.post("/api/v1/patients/999999/responses", json={"instrument": "PHQ-9"})
    assert missing.status_code == 422  # the body is read (and refused) before the lookup
    unknown = client.post(
        "/api/v1/patients/999999/responses", json={"instrument": "PHQ-9", "answers": [0] * 9}
    )
    assert unknown.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.dictionaries(
        st.sampled_from(["instrument", "answers", "course_id", "note", "ünïcode"]),
        json_values
        | st.sampled_from(["PHQ-9", "GAD-7", "PEG-3"])
        | st.lists(st.integers(min_value=-(10**30), max_value=10**30), max_size=12),
        max_size=4,
    )
)
def test_fuzzed_response_bodies_never_5xx_and_never_half_write(
    api: ApiClient, admin: Any, course: Course, body: dict[str, Any]
) -> None:
    before = db.session.scalar(select(func.count()).select_from(QuestionnaireResponse))
    answer = api.as_(admin).post(responses_url(course), json=body)
    assert answer.status_code in (201, 422), (body, answer.get_data(as_text=True)[:300])
    after = db.session.scalar(select(func.count()).select_from(QuestionnaireResponse))
    if answer.status_code == 422:
        assert answer.get_json()["error"]["message"]
        assert after == before
    else:
        assert after == before + 1


def test_a_link_answers_its_url_and_expiry(
    api: ApiClient, front_desk: Any, course: Course, app: Any
) -> None:
    with time_machine.travel(START, tick=False):
        answer = api.as_(front_desk).post(
            f"/api/v1/patients/{course.patient_id}/questionnaire-links",
            json={"instrument": "PHQ-9"},
        )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["url"].startswith(app.config["CLINIC_BASE_URL"] + "/q/")
    assert body["expires_at"].startswith((START + timedelta(days=7)).date().isoformat())
    refused = api.as_(front_desk).post(
        f"/api/v1/patients/{course.patient_id}/questionnaire-links", json={"instrument": "X"}
    )
    assert refused.status_code == 422


def test_course_outcomes_follow_the_contract(
    api: ApiClient, technician: Any, course: Course
) -> None:
    client = api.as_(technician)
    with time_machine.travel(START - timedelta(days=2), tick=False):
        client.post(responses_url(course), json={"instrument": "PHQ-9", "answers": phq9(18)})
    deliver(course, 5)  # days 0 to 4: the course's end runs to day 11
    with time_machine.travel(START + timedelta(days=10), tick=False):
        client.post(responses_url(course), json={"instrument": "PHQ-9", "answers": phq9(8)})
    answer = client.get(f"/api/v1/courses/{course.id}/outcomes")
    assert answer.status_code == 200
    phq = answer.get_json()["instruments"]["PHQ-9"]
    assert (phq["baseline"], phq["latest"], phq["change_pct"]) == (18, 8, -55.6)
    assert (phq["response"], phq["remission"]) == (True, False)
    assert [p["score"] for p in phq["series"]] == [18, 8]
    assert {"date", "score"} <= set(phq["series"][0])
    assert client.get("/api/v1/courses/999999/outcomes").status_code == 404


def test_every_role_reads_but_needs_a_token(api: ApiClient, course: Course) -> None:
    assert api.get("/api/v1/instruments").status_code == 401
    assert api.post(responses_url(course), json={}).status_code == 401
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0

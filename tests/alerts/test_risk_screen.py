"""Item-9 follow-up: a suicidal-ideation alert closes only with the clinician's ASQ screen
(CONTRACT 8); an acute positive holds the course; a positive flags the patient on the
technicians' pages until a clinician clears it (or resumes the held course)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from clinic import clock
from clinic.alerts.models import Alert
from clinic.alerts.risk_screen import ACUITY_QUESTION, QUESTIONS
from clinic.alerts.services import raise_alert, risk_flags
from clinic.audit.models import AuditEvent
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes.services import record_response
from tests.factories import ApiClient, count, login, make_appointment, make_course, make_patient

NO, YES = False, True
NEGATIVE = [NO, NO, NO, NO]
NON_ACUTE = [YES, NO, NO, NO, NO]
ACUTE = [NO, NO, YES, NO, YES]


def screen(answers: list[Any]) -> dict[str, Any]:
    return {"instrument": "ASQ", "answers": answers}


@pytest.fixture
def item9(course: Any, frozen: Any) -> Alert:
    """The alert PHQ-9 item 9 opens, on the course's patient, through the real path; the
    patient has a session today (unassigned, so every technician's Today list shows it)."""
    make_appointment(course, clock.now())
    record_response(course.patient_id, "PHQ-9", [1] * 8 + [2], course.id, "link", None)
    db.session.commit()
    alert = db.session.query(Alert).filter_by(kind="suicidal_ideation").one()
    return alert


def acknowledge(api: ApiClient, user: Any, alert: Alert, **fields: Any) -> Any:
    return api.as_(user).post(
        f"/api/v1/alerts/{alert.id}/acknowledge", json={"note": "Saw the patient.", **fields}
    )


def course_status(course: Any) -> str:
    db.session.expire_all()
    found = db.session.get(Course, course.id)
    assert found is not None
    return found.status


# --- the API ---------------------------------------------------------------------------------


def test_a_suicidal_ideation_alert_needs_the_risk_screen(
    api: ApiClient, item9: Alert, clinician: Any
) -> None:
    """Wrong before: a note alone closed the alert, with no suicide-risk screen recorded."""
    refused = acknowledge(api, clinician, item9)
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "risk_screen_required"
    assert "risk_screen" in refused.json["error"]["fields"]
    db.session.expire_all()
    assert db.session.get(Alert, item9.id).status == "open"


@pytest.mark.parametrize(
    "bad",
    [
        [YES, NO, NO, NO],  # a yes without question 5
        [NO, NO, NO, NO, NO],  # question 5 although every answer is no
        [NO, NO, NO, NO, YES],  # the same, answered yes
        [NO, NO, NO],  # too short
        [YES, NO, NO, NO, NO, NO],  # too long
        ["yes", NO, NO, NO, NO],  # not a boolean
        [1, 0, 0, 0, 0],  # numbers are not answers
        [None, NO, NO, NO],  # question 1 unanswered
    ],
)
def test_the_screen_is_validated_both_ways(
    api: ApiClient, item9: Alert, clinician: Any, bad: list[Any]
) -> None:
    answer = acknowledge(api, clinician, item9, risk_screen=screen(bad))
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["code"] == "validation_error"
    db.session.expire_all()
    assert db.session.get(Alert, item9.id).status == "open"


def test_an_unknown_instrument_is_refused(api: ApiClient, item9: Alert, clinician: Any) -> None:
    answer = acknowledge(
        api, clinician, item9, risk_screen={"instrument": "C-SSRS", "answers": NEGATIVE}
    )
    assert answer.status_code == 422


def test_a_negative_screen_closes_the_alert_and_flags_no_one(
    api: ApiClient, item9: Alert, clinician: Any, course: Any
) -> None:
    assert risk_flags([course.patient_id])[course.patient_id].id == item9.id  # awaiting screen
    answer = acknowledge(api, clinician, item9, risk_screen=screen(NEGATIVE))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["status"], body["risk_result"], body["risk_flag"]) == (
        "acknowledged",
        "negative",
        False,
    )
    assert body["risk_screen"] == {"instrument": "ASQ", "answers": NEGATIVE}
    assert course_status(course) == "active"
    assert risk_flags([course.patient_id]) == {}
    # A trailing null stands for question 5 not asked.
    other = raise_alert("suicidal_ideation", "again", patient_id=course.patient_id)
    db.session.commit()
    assert (
        acknowledge(api, clinician, other, risk_screen=screen([*NEGATIVE, None])).json[
            "risk_result"
        ]
        == "negative"
    )


def test_an_acute_positive_puts_the_course_on_hold(
    api: ApiClient, item9: Alert, clinician: Any, course: Any
) -> None:
    answer = acknowledge(api, clinician, item9, risk_screen=screen(ACUTE))
    assert answer.status_code == 200, answer.json
    assert (answer.json["risk_result"], answer.json["risk_flag"]) == ("acute_positive", True)
    held = api.as_(clinician).get(f"/api/v1/courses/{course.id}").json
    assert held["status"] == "on_hold"
    assert f"alert {item9.id}" in held["status_reason"]
    flagged = api.as_(clinician).get("/api/v1/alerts?flagged=true").json["items"]
    assert [a["id"] for a in flagged] == [item9.id]


def test_a_non_acute_positive_keeps_the_course_and_flags_the_patient(
    api: ApiClient, item9: Alert, clinician: Any, course: Any
) -> None:
    answer = acknowledge(api, clinician, item9, risk_screen=screen(NON_ACUTE))
    assert (answer.json["risk_result"], answer.json["risk_flag"]) == ("non_acute_positive", True)
    assert course_status(course) == "active"
    assert risk_flags([course.patient_id])[course.patient_id].id == item9.id


def test_a_clinician_clears_the_flag(
    api: ApiClient, item9: Alert, clinician: Any, technician: Any, course: Any
) -> None:
    acknowledge(api, clinician, item9, risk_screen=screen(NON_ACUTE))
    url = f"/api/v1/alerts/{item9.id}/clear-flag"
    assert api.as_(technician).post(url, json={"note": "x"}).status_code == 403
    assert api.as_(clinician).post(url, json={}).status_code == 422
    cleared = api.as_(clinician).post(url, json={"note": "Safety assessment done; low risk."})
    assert cleared.status_code == 200, cleared.json
    assert cleared.json["risk_flag"] is False
    assert cleared.json["flag_cleared_by_id"] == clinician.id
    assert risk_flags([course.patient_id]) == {}
    again = api.as_(clinician).post(url, json={"note": "again"})
    assert (again.status_code, again.json["error"]["code"]) == (409, "flag_not_active")


def test_resuming_the_held_course_clears_the_acute_flag(
    api: ApiClient, item9: Alert, clinician: Any, course: Any
) -> None:
    acknowledge(api, clinician, item9, risk_screen=screen(ACUTE))
    resumed = api.as_(clinician).post(
        f"/api/v1/courses/{course.id}/status", json={"status": "active", "reason": "Evaluated"}
    )
    assert resumed.json["status"] == "active"
    db.session.expire_all()
    alert = db.session.get(Alert, item9.id)
    assert alert is not None and alert.flag_cleared_at is not None
    assert alert.flag_cleared_by_id == clinician.id
    assert risk_flags([course.patient_id]) == {}


def test_an_acute_positive_holds_every_active_course_of_the_patient(
    api: ApiClient, clinician: Any, frozen: Any
) -> None:
    patient = make_patient()
    first = make_course(patient, prescriber=clinician)
    second = make_course(patient, prescriber=clinician, protocol_code="10hz-m1-pain")
    ended = make_course(patient, prescriber=clinician, status="completed")
    alert = raise_alert("suicidal_ideation", "item 9", patient_id=patient.id)
    db.session.commit()
    acknowledge(api, clinician, alert, risk_screen=screen(ACUTE))
    assert [course_status(c) for c in (first, second, ended)] == [
        "on_hold",
        "on_hold",
        "completed",
    ]


def test_other_alerts_need_no_screen_and_refuse_one(api: ApiClient, clinician: Any) -> None:
    first = raise_alert("authorization", "Authorization nearly used")
    second = raise_alert("adverse_event", "Syncope")
    db.session.commit()
    plain = acknowledge(api, clinician, first)
    assert plain.status_code == 200 and plain.json["risk_result"] is None
    refused = acknowledge(api, clinician, second, risk_screen=screen(NEGATIVE))
    assert refused.status_code == 422


def test_the_screen_is_audited_with_its_result(
    api: ApiClient, item9: Alert, clinician: Any
) -> None:
    before = count(AuditEvent)
    acknowledge(api, clinician, item9, risk_screen=screen(NON_ACUTE))
    events = db.session.query(AuditEvent).order_by(AuditEvent.id).all()[before:]
    acknowledged = [e for e in events if e.action == "acknowledge"]
    assert acknowledged and acknowledged[0].detail["risk_result"] == "non_acute_positive"


# --- the pages -------------------------------------------------------------------------------


def test_the_alert_form_asks_the_published_asq_questions(
    client: FlaskClient, item9: Alert, clinician: Any
) -> None:
    login(client, clinician)
    page = client.get("/alerts").get_data(as_text=True)
    for question in (*QUESTIONS, ACUITY_QUESTION):
        assert question in page
    assert 'name="asq_5"' in page


def test_the_page_acknowledges_with_an_acute_positive_and_holds_the_course(
    client: FlaskClient, item9: Alert, clinician: Any, course: Any
) -> None:
    login(client, clinician)
    answers = {"asq_1": "yes", "asq_2": "no", "asq_3": "yes", "asq_4": "no", "asq_5": "yes"}
    done = client.post(
        f"/alerts/{item9.id}/acknowledge",
        data={"note": "Emergency evaluation arranged.", "risk_screen": "y", **answers},
        follow_redirects=True,
    )
    assert "ASQ acute positive" in done.get_data(as_text=True)
    assert course_status(course) == "on_hold"


def test_the_page_refuses_a_screen_missing_question_5(
    client: FlaskClient, item9: Alert, clinician: Any, course: Any
) -> None:
    login(client, clinician)
    answers = {"asq_1": "yes", "asq_2": "no", "asq_3": "no", "asq_4": "no"}
    refused = client.post(
        f"/alerts/{item9.id}/acknowledge",
        data={"note": "Called.", "risk_screen": "y", **answers},
        follow_redirects=True,
    )
    assert "question 5" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Alert, item9.id).status == "open"
    # All no, with a "no" to question 5 on the page: the page simply did not need it.
    negative = {f"asq_{n}": "no" for n in range(1, 6)}
    client.post(
        f"/alerts/{item9.id}/acknowledge",
        data={"note": "Called.", "risk_screen": "y", **negative},
    )
    db.session.expire_all()
    assert db.session.get(Alert, item9.id).risk_result == "negative"


def test_today_and_the_board_flag_the_patient_until_cleared(
    client: FlaskClient, api: ApiClient, item9: Alert, clinician: Any, technician: Any
) -> None:
    """Wrong before: nothing on the technician's pages said the patient had screened
    positive."""
    acknowledge(api, clinician, item9, risk_screen=screen(NON_ACUTE))
    login(client, technician)
    today = client.get("/today").get_data(as_text=True)
    assert "Suicide risk: ASQ non-acute positive" in today
    board = client.get(f"/schedule?date={clock.today().isoformat()}&mine=0")
    assert f'data-risk-flag="{item9.id}"' in board.get_data(as_text=True)
    api.as_(clinician).post(f"/api/v1/alerts/{item9.id}/clear-flag", json={"note": "Assessed."})
    assert "Suicide risk" not in client.get("/today").get_data(as_text=True)


def test_an_unscreened_item_9_flags_the_patient_too(
    client: FlaskClient, item9: Alert, technician: Any
) -> None:
    login(client, technician)
    today = client.get("/today").get_data(as_text=True)
    assert "awaiting a clinician&#39;s screen" in today or "awaiting a clinician's screen" in today


def test_a_clinician_clears_the_flag_on_the_alerts_page(
    client: FlaskClient, api: ApiClient, item9: Alert, clinician: Any, course: Any
) -> None:
    acknowledge(api, clinician, item9, risk_screen=screen(NON_ACUTE))
    login(client, clinician)
    page = client.get("/alerts").get_data(as_text=True)
    assert "Patients flagged after a positive risk screen (1)" in page
    done = client.post(
        f"/alerts/{item9.id}/clear-flag", data={"note": "Assessed"}, follow_redirects=True
    )
    assert "Flag cleared." in done.get_data(as_text=True)
    assert risk_flags([course.patient_id]) == {}

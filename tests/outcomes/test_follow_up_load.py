"""The medication load at each follow-up (1, 3 and 6 months after the last delivered
treatment) on `GET /courses/{id}/outcomes`, the course page and the printed record.

Wrong before: only the start and the end were given, so a taper after the course (the
benefit clinics name) never showed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient

from tests.factories import ApiClient, login, make_course, make_patient
from tests.outcomes.conftest import deliver

# Five sessions from Monday 3 March 2025: the last on Friday 7 March, so the follow-ups
# fall on 7 April, 7 June and 7 September 2025.
MEDICATIONS = (
    # 30 MME (10 mg x 2 x 1.5) until 1 May, then 15 MME until 1 August
    {"drug": "oxycodone", "category": "opioid", "dose_mg": 10, "doses_per_day": 2,
     "started_on": "2024-01-01", "stopped_on": "2025-05-01"},
    {"drug": "oxycodone", "category": "opioid", "dose_mg": 5, "doses_per_day": 2,
     "started_on": "2025-05-01", "stopped_on": "2025-08-01"},
    # 20 mg diazepam (1 mg alprazolam) from 1 September
    {"drug": "alprazolam", "category": "benzodiazepine", "dose_mg": 0.5, "doses_per_day": 2,
     "started_on": "2025-09-01"},
)  # fmt: skip


def a_tapered_course(client: ApiClient) -> int:
    course = make_course(make_patient(), planned_sessions=5)
    deliver(course, 5)
    for values in MEDICATIONS:
        assert (
            client.post(f"/api/v1/patients/{course.patient_id}/medications", json=values)
        ).status_code == 201
    return course.id


def loads(body: dict[str, Any]) -> list[tuple[str, str, float, float]]:
    return [
        (f["label"], f["on"], f["mme_per_day"], f["benzodiazepine_diazepam_mg_per_day"])
        for f in body["medication_load"]["follow_ups"]
    ]


def test_the_load_at_each_follow_up_by_hand(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    course_id = a_tapered_course(client)
    body = client.get(f"/api/v1/courses/{course_id}/outcomes").get_json()
    assert body["medication_load"]["baseline"]["mme_per_day"] == 30.0
    assert body["medication_load"]["end"]["on"] == "2025-03-07"
    assert loads(body) == [
        ("1 month", "2025-04-07", 30.0, 0.0),
        ("3 months", "2025-06-07", 15.0, 0.0),
        ("6 months", "2025-09-07", 0.0, 20.0),
    ]
    assert [f["months"] for f in body["medication_load"]["follow_ups"]] == [1, 3, 6]


def test_only_the_follow_ups_that_have_come_are_given(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    course_id = a_tapered_course(client)
    with time_machine.travel(datetime(2025, 7, 1, 16, 0, tzinfo=UTC), tick=False):
        body = client.get(f"/api/v1/courses/{course_id}/outcomes").get_json()
    assert [label for label, *_ in loads(body)] == ["1 month", "3 months"]
    with time_machine.travel(datetime(2025, 3, 5, 16, 0, tzinfo=UTC), tick=False):
        early = client.get(f"/api/v1/courses/{course_id}/outcomes").get_json()
    assert early["medication_load"]["follow_ups"] == []


def test_the_course_page_and_the_record_show_the_follow_up_loads(
    client: FlaskClient, api: ApiClient, clinician: Any
) -> None:
    course_id = a_tapered_course(api.as_(clinician))
    login(client, clinician)
    for url in (f"/courses/{course_id}", f"/courses/{course_id}/record"):
        html = client.get(url).get_data(as_text=True)
        assert "Medication load a day" in html, url
        assert "3 months after</th>" in html and "Sat 07 Jun 2025" in html, url
        assert "<td>15.0</td>" in html and "<td>20.0</td>" in html, url

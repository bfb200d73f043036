"""The clinic outcomes report (CONTRACT 8): intent to treat and completers per protocol,
on a hand-made data set whose answer was worked out by hand (below, beside the data).

Wrong before: the report counted completed courses only, and its "latest" took the 1-, 3-
and 6-month follow-ups, so it overstated results (course E below was a responder and a
remitter there, on a PHQ-9 answered three months after the course).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes import services
from tests.factories import ApiClient, login, make_appointment, make_course, make_patient
from tests.outcomes.conftest import START, deliver, phq9

REPORT = "/api/v1/reports/outcomes?from=2025-01-01&to=2025-03-31"


def answered(course: Course, instrument: str, score: int, at: datetime) -> None:
    """A paper form: the answer is entered today, administered at `at`."""
    answers = phq9(score) if instrument == "PHQ-9" else [score] * 3
    services.record_response(
        course.patient_id, instrument, answers, course.id, "staff", None, administered_at=at
    )


def a_course(
    protocol: str,
    status: str,
    delivered: int,
    phq: tuple[int, ...],
    peg: tuple[int, ...] = (),
    *,
    start: datetime = START,
) -> Course:
    """`delivered` sessions from `start` (daily); PHQ-9/PEG-3: the day before the first,
    then 2 days after the last, then any more 3 months after the last (a follow-up)."""
    course = make_course(make_patient(), protocol_code=protocol, planned_sessions=5)
    deliver(course, delivered, start=start)
    last = start + timedelta(days=max(delivered - 1, 0))
    for instrument, scores in (("PHQ-9", phq), ("PEG-3", peg)):
        moments = [start - timedelta(days=1), last + timedelta(days=2), last + timedelta(days=91)]
        for score, at in zip(scores, moments, strict=False):
            answered(course, instrument, score, at)
    course.status = status
    course.status_changed_at = last + timedelta(days=2)
    db.session.commit()
    return course


def hand_made_clinic() -> None:
    """First treatments from 2025-03-03 (in range) unless said otherwise."""
    # 10 Hz L-DLPFC
    a_course("10hz-ldlpfc", "completed", 5, (20, 8), (8, 4))  # A: response; pain -50%
    a_course("10hz-ldlpfc", "completed", 5, (20, 4))  # B: response and remission
    a_course("10hz-ldlpfc", "discontinued", 2, (20, 18), (6, 5))  # C: neither; pain -16.7%
    a_course("10hz-ldlpfc", "discontinued", 1, (22,))  # D: no end score: counts as neither
    a_course("10hz-ldlpfc", "completed", 5, (20, 12, 3))  # E: -40%; the 3-month 3 is apart
    undelivered = make_course(make_patient(), protocol_code="10hz-ldlpfc")  # F: never treated
    make_appointment(undelivered, START + timedelta(days=20))
    last_year = datetime.fromisoformat("2024-11-04T14:00+00:00")
    a_course("10hz-ldlpfc", "completed", 5, (20, 2), start=last_year)  # G: out of range
    # 10 Hz M1 (pain)
    a_course("10hz-m1-pain", "completed", 5, (10, 6), (6, 4))  # H: PHQ -40%; pain -33.3%


# By hand:
# 10hz-ldlpfc  ITT A B C D E: n 5, responders A B = 2 (40.0%), remitters B = 1 (20.0%)
#              completers A B E: n 3, 2 (66.7%), 1 (33.3%)
#              pain (PEG-3 baseline > 0) A C: n 2, >=30% A = 1 (50.0%), >=50% A = 1 (50.0%)
# 10hz-m1-pain ITT H: n 1, 0 (0.0%), 0 (0.0%); completers the same; pain H: 1, 1 (100.0%), 0
# total        ITT n 6: 2 (33.3%), 1 (16.7%); completers n 4: 2 (50.0%), 1 (25.0%);
#              pain n 3: 2 (66.7%), 1 (33.3%)
def mood(n: int, responders: int, response: float, remitters: int, remission: float) -> dict:
    return {
        "n": n,
        "responders": responders,
        "response": response,
        "remitters": remitters,
        "remission": remission,
    }


def pain(n: int, at_30: int, pct_30: float, at_50: int, pct_50: float) -> dict:
    return {
        "n": n,
        "responders_30": at_30,
        "response_30": pct_30,
        "responders_50": at_50,
        "response_50": pct_50,
    }


EXPECTED_ITEMS = [
    {
        "protocol": "10hz-ldlpfc",
        "intent_to_treat": mood(5, 2, 40.0, 1, 20.0),
        "completers": mood(3, 2, 66.7, 1, 33.3),
        "pain": pain(2, 1, 50.0, 1, 50.0),
    },
    {
        "protocol": "10hz-m1-pain",
        "intent_to_treat": mood(1, 0, 0.0, 0, 0.0),
        "completers": mood(1, 0, 0.0, 0, 0.0),
        "pain": pain(1, 1, 100.0, 0, 0.0),
    },
]
EXPECTED_TOTAL = {
    "intent_to_treat": mood(6, 2, 33.3, 1, 16.7),
    "completers": mood(4, 2, 50.0, 1, 25.0),
    "pain": pain(3, 2, 66.7, 1, 33.3),
}


def _subset(answer: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {k: answer[key][k] for k in value} if isinstance(value, dict) else answer[key]
        for key, value in expected.items()
    }


def test_the_report_counts_intent_to_treat_and_completers_by_hand(
    api: ApiClient, technician: Any
) -> None:
    hand_made_clinic()
    answer = api.as_(technician).get(REPORT)
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["from"], body["to"]) == ("2025-01-01", "2025-03-31")
    items = zip(body["items"], EXPECTED_ITEMS, strict=True)
    assert [_subset(item, want) for item, want in items] == EXPECTED_ITEMS
    assert _subset(body["total"], EXPECTED_TOTAL) == EXPECTED_TOTAL
    assert body["items"][0]["intent_to_treat"]["judged"] == 4  # D has no end score


def test_the_report_strata_by_baseline_pain_and_quarter(api: ApiClient, clinician: Any) -> None:
    """By hand: PEG-3 baselines A 8 (>=7), C 6 and H 6 (4-6); B, D, E not measured."""
    hand_made_clinic()
    strata = api.as_(clinician).get(REPORT).get_json()["strata"]
    by_pain = {s["label"]: s for s in strata["baseline_pain"]}
    assert list(by_pain) == ["4-6", ">=7", "not measured"]
    assert _subset(by_pain[">=7"], {"intent_to_treat": mood(1, 1, 100.0, 0, 0.0)})
    assert _subset(by_pain["4-6"], {"intent_to_treat": mood(2, 0, 0.0, 0, 0.0),
                                    "pain": pain(2, 1, 50.0, 0, 0.0)})  # fmt: skip
    assert _subset(by_pain["not measured"], {"intent_to_treat": mood(3, 1, 33.3, 1, 33.3),
                                             "completers": mood(2, 1, 50.0, 1, 50.0)})  # fmt: skip
    assert [q["label"] for q in strata["quarter"]] == ["2025-Q1"]
    assert strata["quarter"][0]["intent_to_treat"]["n"] == 6


def test_the_report_shows_the_medication_load_change(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    tapered = a_course("10hz-ldlpfc", "completed", 5, (20, 10))  # 3 to 7 March 2025
    steady = a_course("10hz-ldlpfc", "completed", 5, (20, 10))
    for course, doses in ((tapered, [(10, "2025-03-05"), (5, None)]), (steady, [(20, None)])):
        started = "2024-01-01"
        for dose, stopped in doses:
            client.post(
                f"/api/v1/patients/{course.patient_id}/medications",
                json={"drug": "oxycodone", "category": "opioid", "dose_mg": dose,
                      "doses_per_day": 2, "started_on": started, "stopped_on": stopped},
            )  # fmt: skip
            started = stopped or started
    load = client.get(REPORT).get_json()["items"][0]["medication_load"]
    # tapered 30 -> 15 MME, steady 60 -> 60: means 45 -> 37.5, change -7.5
    assert load["opioid"] == {"n": 2, "mean_baseline": 45.0, "mean_end": 37.5, "mean_change": -7.5}
    assert load["benzodiazepine"]["n"] == 0


def test_the_report_page_shows_both_cohorts_with_counts_and_a_csv(
    client: FlaskClient, clinician: Any
) -> None:
    hand_made_clinic()
    login(client, clinician)
    page = client.get("/outcomes?start=2025-01-01&end=2025-03-31")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Intent to treat" in html and "Completers" in html
    assert "40.0% (2 of 5)" in html  # 10 Hz ITT response
    assert "66.7% (2 of 3)" in html  # 10 Hz completers response
    assert "16.7% (1 of 6)" in html  # total ITT remission
    assert "By baseline pain" in html and "2025-Q1" in html
    csv = client.get("/outcomes.csv?start=2025-01-01&end=2025-03-31")
    assert csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0] == "group,label,cohort,measure,n,count,pct,value,definition"
    assert any(line.startswith("protocol,all,intent_to_treat,response,6,2,33.3,") for line in lines)
    assert any(line.startswith("protocol,all,pain,response_50,3,1,33.3,") for line in lines)
    assert any(
        line.startswith("baseline_pain,>=7,intent_to_treat,response,1,1,100.0,") for line in lines
    )
    assert "discontinued included" in lines[1]
    empty = client.get("/outcomes?start=2020-01-01&end=2020-03-31")
    assert "No course was first treated" in empty.get_data(as_text=True)


def test_the_report_refuses_a_bad_range(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    reversed_range = client.get("/api/v1/reports/outcomes?from=2025-03-31&to=2025-01-01")
    assert reversed_range.status_code == 422
    assert "to" in reversed_range.get_json()["error"]["fields"]
    assert client.get("/api/v1/reports/outcomes?from=yesterday").status_code == 422
    empty = client.get("/api/v1/reports/outcomes?from=2020-01-01&to=2020-12-31").get_json()
    assert empty["items"] == [] and empty["total"]["intent_to_treat"]["n"] == 0


def test_the_report_statement_count_does_not_grow(
    client: FlaskClient, admin: Any, count_queries: Any
) -> None:
    login(client, admin)
    a_course("10hz-ldlpfc", "completed", 5, (20, 4), (8, 4))
    with count_queries() as few:
        client.get("/outcomes?start=2025-01-01&end=2025-06-30")
    for _ in range(4):
        a_course("itbs-ldlpfc", "discontinued", 3, (18, 9), (7, 5))
    with count_queries() as many:
        client.get("/outcomes?start=2025-01-01&end=2025-06-30")
    assert many.count == few.count

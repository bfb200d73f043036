"""The CPT rule table of CONTRACT 9 on a hand-made course, and the lines endpoint."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from clinic.audit.models import AuditEvent
from clinic.billing.coding import billing_lines, ordered_icd10
from clinic.extensions import db
from tests.billing.conftest import at, stopped
from tests.factories import make_appointment, make_course, make_patient
from tests.treatments.conftest import log


def test_the_rule_table_on_a_hand_made_course(coded_course: Any) -> None:
    course, ids = coded_course
    lines = billing_lines(date(2026, 3, 1), date(2026, 3, 31))
    assert [line.appointment_id for line in lines] == ids
    assert [(line.cpt, line.billable) for line in lines] == [
        ("90867", True),
        ("90869", False),  # what it would have been; it uses up nothing
        ("90868", True),
        ("90869", True),  # 6 days after the stopped one: that one did not count
        ("90868", False),
        ("90868", True),
        ("90869", True),
    ]
    first = lines[0]
    assert first.date == date(2026, 3, 2)
    assert first.units == 1
    assert first.icd10 == ("F33.2", "G89.4")
    assert first.authorization_number == "PA-77"
    assert first.course_id == course.id


def test_a_later_period_keeps_the_course_history(coded_course: Any) -> None:
    """Coding looks back before the period: the session of 12 March is no first treatment."""
    lines = billing_lines(date(2026, 3, 12), date(2026, 3, 12))
    assert [line.cpt for line in lines] == ["90868"]


def test_the_first_delivered_treatment_after_a_stopped_one_is_90867(
    frozen: Any, clinician: Any
) -> None:
    course = make_course(make_patient(), prescriber=clinician)
    first, second = (make_appointment(course, at(day), sequence=day) for day in (2, 3))
    log(first, clinician, **stopped(motor_threshold_pct=50))
    log(second, clinician)
    lines = billing_lines(date(2026, 3, 1), date(2026, 3, 31), course_id=course.id)
    assert [(line.cpt, line.billable) for line in lines] == [("90867", False), ("90867", True)]


def test_depression_codes_come_first() -> None:
    assert ordered_icd10(["M79.7", "F32.2", "G89.4", "F33.1"]) == (
        "F32.2",
        "F33.1",
        "M79.7",
        "G89.4",
    )


def test_the_lines_endpoint_answers_the_contract_and_audits(
    coded_course: Any, api: Any, front_desk: Any
) -> None:
    course, ids = coded_course
    response = api.as_(front_desk).get(
        f"/api/v1/billing/lines?from=2026-03-01&to=2026-03-05&patient_id={course.patient_id}"
    )
    assert response.status_code == 200, response.json
    items = response.json["items"]
    assert [item["appointment_id"] for item in items] == ids[:3]
    assert {
        key: items[0][key]
        for key in ("patient_id", "course_id", "date", "cpt", "units", "icd10", "billable")
    } == {
        "patient_id": course.patient_id,
        "course_id": course.id,
        "date": "2026-03-02",
        "cpt": "90867",
        "units": 1,
        "icd10": ["F33.2", "G89.4"],
        "billable": True,
    }
    assert items[0]["authorization_number"] == "PA-77"
    viewed = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.patient_id == course.patient_id, AuditEvent.action == "view"
        )
    ).all()
    assert viewed


@pytest.mark.parametrize(
    "query",
    [
        "",
        "from=2026-03-01",
        "from=2026-03-05&to=2026-03-01",
        "from=x&to=2026-03-01",
        "from=2025-01-01&to=2026-03-01",
    ],
)
def test_bad_periods_are_422(app: Any, api: Any, admin: Any, query: str) -> None:
    response = api.as_(admin).get(f"/api/v1/billing/lines?{query}")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"


def test_technicians_and_clinicians_may_not_read_billing(
    app: Any, api: Any, technician: Any, clinician: Any
) -> None:
    for user in (technician, clinician):
        response = api.as_(user).get("/api/v1/billing/lines?from=2026-03-01&to=2026-03-02")
        assert response.status_code == 403


def test_coding_a_period_costs_the_same_statements_whatever_the_number_of_courses(
    coded_course: Any, clinician: Any, count_queries: Any
) -> None:
    db.session.expire_all()
    with count_queries() as one:
        billing_lines(date(2026, 3, 1), date(2026, 3, 31))
    for n in range(3):
        other = make_course(make_patient(), prescriber=clinician)
        log(make_appointment(other, at(2 + n), sequence=1), clinician, motor_threshold_pct=50)
    db.session.expire_all()
    with count_queries() as four:
        lines = billing_lines(date(2026, 3, 1), date(2026, 3, 31))
    assert len(lines) == 10
    assert four.count == one.count <= 5

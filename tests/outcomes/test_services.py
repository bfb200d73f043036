"""Responses, links, cadence and course outcomes at the service layer."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from clinic import events
from clinic.alerts.models import Alert
from clinic.audit.models import AuditEvent
from clinic.courses.models import Course
from clinic.errors import Gone, Invalid, NotFound
from clinic.extensions import db
from clinic.outcomes import cadence, services
from clinic.outcomes.models import QuestionnaireAssignment, QuestionnaireLink
from tests.factories import captured, make_appointment, make_course, make_patient
from tests.outcomes.conftest import START, deliver, phq9


def assignments(course: Course) -> set[tuple[str, str]]:
    rows = db.session.scalars(
        select(QuestionnaireAssignment).where(QuestionnaireAssignment.course_id == course.id)
    )
    return {(a.instrument, a.reason) for a in rows}


def test_a_response_is_scored_stored_and_audited(course: Course, clinician: Any) -> None:
    response = services.record_response(
        course.patient_id, "PHQ-9", phq9(12), None, "staff", clinician.id
    )
    db.session.commit()
    assert (response.score, response.severity, response.flags) == (12, "moderate", [])
    assert response.course_id == course.id  # the patient's current course by default
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "response"))
    assert audit is not None and audit.actor_id == clinician.id
    assert audit.patient_id == course.patient_id


def test_peg3_is_the_mean_of_its_three_items(course: Course) -> None:
    response = services.record_response(course.patient_id, "PEG-3", [7, 6, 6], None, "staff", None)
    assert response.score == pytest.approx(6.3)


def test_item_9_opens_an_urgent_alert_for_the_prescriber_on_every_path(
    course: Course, clinician: Any
) -> None:
    for source in ("link", "tablet", "staff"):
        response = services.record_response(
            course.patient_id, "PHQ-9", phq9(14, item9=1), None, source, None
        )
        assert response.flags == ["suicidal_ideation"]
        assert response.answers[8] == 1  # item 9 is kept as answered
        alert = db.session.scalars(select(Alert).where(Alert.subject_id == response.id)).one()
        assert (alert.kind, alert.severity, alert.status) == ("suicidal_ideation", "urgent", "open")
        assert alert.assigned_to_id == clinician.id
        assert (alert.patient_id, alert.course_id) == (course.patient_id, course.id)
        assert alert.subject_id == response.id and source in alert.message
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 3


def test_item_9_at_zero_opens_no_alert(course: Course) -> None:
    services.record_response(course.patient_id, "PHQ-9", phq9(20), None, "staff", None)
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0


def test_bad_answers_and_instruments_are_refused_with_fields(course: Course) -> None:
    with pytest.raises(Invalid) as bad:
        services.record_response(course.patient_id, "PHQ-9", [4] * 9, None, "staff", None)
    assert "answers" in bad.value.fields
    with pytest.raises(Invalid) as unknown:
        services.record_response(course.patient_id, "BDI", [1], None, "staff", None)
    assert "instrument" in unknown.value.fields
    other = make_course(make_patient())
    with pytest.raises(Invalid) as foreign:
        services.record_response(course.patient_id, "PHQ-9", phq9(), other.id, "staff", None)
    assert "course_id" in foreign.value.fields
    with pytest.raises(NotFound):
        services.record_response(10**12, "PHQ-9", phq9(), None, "staff", None)


# Links -------------------------------------------------------------------------------


def test_a_link_stores_only_a_hash_and_is_announced_for_delivery(
    app: Flask, course: Course
) -> None:
    with captured(events.questionnaire_link_created) as sent:
        link, url = services.create_link(course.patient_id, "PHQ-9", deliver=True)
    token = url.rsplit("/", 1)[1]
    assert url.startswith(f"{app.config['CLINIC_BASE_URL']}/q/")
    assert link.token_hash == services.hash_token(token) and token not in link.token_hash
    assert link.expires_at - link.created_at == timedelta(days=7)
    assert sent[0]["url"] == url and sent[0]["deliver"] is True
    assert sent[0]["patient"].id == course.patient_id and sent[0]["course"].id == course.id


def test_a_link_works_once(course: Course) -> None:
    _link, url = services.create_link(course.patient_id, "PHQ-9")
    token = url.rsplit("/", 1)[1]
    response = services.submit_link(token, phq9(5))
    db.session.commit()
    assert response.source == "link"
    with pytest.raises(Gone):
        services.submit_link(token, phq9(5))
    with pytest.raises(Gone):
        services.open_link(token)


def test_bad_answers_do_not_spend_the_link(course: Course) -> None:
    _link, url = services.create_link(course.patient_id, "GAD-7")
    token = url.rsplit("/", 1)[1]
    with pytest.raises(Invalid):
        services.submit_link(token, [9] * 7)
    assert services.open_link(token).used_at is None


def test_a_link_expires_after_the_configured_days(app: Flask, course: Course) -> None:
    app.config["CLINIC_LINK_TTL_DAYS"] = 2
    with time_machine.travel(START, tick=False):
        _link, url = services.create_link(course.patient_id, "PHQ-9")
        db.session.commit()
    token = url.rsplit("/", 1)[1]
    with time_machine.travel(START + timedelta(days=2) - timedelta(seconds=1), tick=False):
        assert services.open_link(token)
    with time_machine.travel(START + timedelta(days=2), tick=False), pytest.raises(Gone) as gone:
        services.submit_link(token, phq9())
    assert gone.value.code == "link_expired"


def test_unknown_tokens_are_not_found(course: Course) -> None:
    with pytest.raises(NotFound):
        services.open_link("nope")


def test_two_concurrent_submissions_record_exactly_one_response(app: Flask, course: Course) -> None:
    _link, url = services.create_link(course.patient_id, "PHQ-9")
    db.session.commit()
    token = url.rsplit("/", 1)[1]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit() -> None:
        with app.app_context():
            barrier.wait()
            try:
                services.submit_link(token, phq9(8))
                db.session.commit()
                outcomes.append("ok")
            except Gone:
                db.session.rollback()
                outcomes.append("gone")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["gone", "ok"]
    db.session.expire_all()
    assert db.session.scalar(select(QuestionnaireLink.used_at)) is not None


# Cadence -----------------------------------------------------------------------------


def test_the_first_booking_asks_for_the_baseline_once(course: Course) -> None:
    appointments = deliver(course, 1)
    for _ in range(2):
        events.appointments_booked.send(None, appointments=appointments, actor_id=None)
    assert assignments(course) == {
        ("PHQ-9", "baseline"),
        ("PEG-3", "baseline"),
        ("GAD-7", "baseline"),
        ("PROMIS-SD-8a", "baseline"),
    }


def test_every_fifth_delivered_session_asks_phq9_and_peg3(course: Course) -> None:
    delivered = deliver(course, 4)
    events.treatment_logged.send(None, treatment=SimpleNamespace(appointment=delivered[-1]))
    assert assignments(course) == set()
    fifth = deliver(course, 1, first_sequence=5)[0]
    events.treatment_logged.send(None, treatment=SimpleNamespace(appointment=fifth))
    assert assignments(course) == {("PHQ-9", "session_5"), ("PEG-3", "session_5")}


def test_a_completed_mapping_visit_is_not_a_delivered_session(course: Course) -> None:
    """A mapping visit finds the coil position; it is not one of the course's sessions,
    so it must not move the questionnaire cadence."""
    delivered = deliver(course, 4)
    mapping = make_appointment(
        course, START - timedelta(days=3), sequence=99, kind="mapping", status="completed"
    )
    events.treatment_logged.send(None, treatment=SimpleNamespace(appointment=delivered[-1]))
    events.treatment_logged.send(None, treatment=SimpleNamespace(appointment=mapping))
    assert assignments(course) == set()


def test_the_last_session_asks_the_end_questionnaires_and_plans_follow_ups(
    clinician: Any,
) -> None:
    course = make_course(make_patient(), prescriber=clinician, planned_sessions=3)
    delivered = deliver(course, 3)
    events.treatment_logged.send(None, treatment=SimpleNamespace(appointment_id=delivered[-1].id))
    found = assignments(course)
    assert {("PHQ-9", "end"), ("PEG-3", "end"), ("GAD-7", "end"), ("PROMIS-SD-8a", "end")} <= found
    assert {("PHQ-9", "followup_1m"), ("PEG-3", "followup_3m"), ("PHQ-9", "followup_6m")} <= found
    assert ("GAD-7", "followup_1m") not in found
    end_day = START.astimezone(cadence.clock.clinic_tz()).date() + timedelta(days=2)
    due = {
        a.reason: a.due_on
        for a in db.session.scalars(
            select(QuestionnaireAssignment).where(QuestionnaireAssignment.instrument == "PHQ-9")
        )
    }
    assert due["end"] == end_day
    assert due["followup_1m"] == cadence.add_months(end_day, 1)
    assert due["followup_6m"] == cadence.add_months(end_day, 6)


def test_completing_a_course_asks_the_end_questionnaires(course: Course) -> None:
    deliver(course, 2)
    course.status = "completed"
    events.course_status_changed.send(None, course=course, old_status="active", actor_id=None)
    events.course_status_changed.send(None, course=course, old_status="active", actor_id=None)
    assert ("GAD-7", "end") in assignments(course)


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert cadence.add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert cadence.add_months(date(2025, 11, 15), 3) == date(2026, 2, 15)


def test_planning_sends_one_link_per_due_assignment_and_a_response_completes_it(
    course: Course,
) -> None:
    with time_machine.travel(START, tick=False):
        cadence.ensure_baseline(course)
        with captured(events.questionnaire_link_created) as sent:
            assert cadence.plan_questionnaires(START) == 4
            assert cadence.plan_questionnaires(START) == 0
        assert {s["link"].instrument for s in sent} == {"PHQ-9", "PEG-3", "GAD-7", "PROMIS-SD-8a"}
        assert all(s["deliver"] for s in sent)
        assert cadence.due_counts_for_day(START.date(), [course.patient_id, 0]) == {
            course.patient_id: 4
        }
        assert cadence.due_counts_for_day(START.date(), [0]) == {}
        phq = next(s for s in sent if s["link"].instrument == "PHQ-9")
        services.submit_link(phq["url"].rsplit("/", 1)[1], phq9(9))
        assert cadence.due_counts_for_day(START.date(), [course.patient_id]) == {
            course.patient_id: 3
        }
        services.record_response(course.patient_id, "GAD-7", [1] * 7, None, "tablet", None)
        statuses = {
            a.instrument: a.status for a in db.session.scalars(select(QuestionnaireAssignment))
        }
    assert statuses == {
        "PHQ-9": "completed",
        "GAD-7": "completed",
        "PEG-3": "due",
        "PROMIS-SD-8a": "due",
    }


def test_unanswered_assignments_expire(course: Course) -> None:
    with time_machine.travel(START, tick=False):
        cadence.ensure_baseline(course)
    later = START + timedelta(days=cadence.EXPIRE_AFTER_DAYS + 1)
    with time_machine.travel(later, tick=False):
        assert cadence.plan_questionnaires(later) == 0
    assert {a.status for a in db.session.scalars(select(QuestionnaireAssignment))} == {"expired"}


# Course outcomes ---------------------------------------------------------------------


def test_course_outcomes_use_the_first_delivered_session_as_the_baseline_cut_off(
    course: Course,
) -> None:
    def answer(at: Any, total: int, pain: list[int]) -> None:
        with time_machine.travel(at, tick=False):
            services.record_response(course.patient_id, "PHQ-9", phq9(total), None, "link", None)
            services.record_response(course.patient_id, "PEG-3", pain, None, "link", None)

    answer(START - timedelta(days=3), 22, [8, 8, 8])
    answer(START - timedelta(days=1), 20, [8, 7, 6])
    deliver(course, 10)  # days 0 to 9: the course's end runs to day 16
    answer(START + timedelta(days=14), 4, [4, 4, 4])
    outcome = services.course_outcomes(course.id, viewer_id=None)["instruments"]
    phq = outcome["PHQ-9"]
    assert (phq["baseline"], phq["latest"], phq["change_pct"]) == (20, 4, -80.0)
    assert (phq["response"], phq["remission"]) == (True, True)
    assert [p["score"] for p in phq["series"]] == [22, 20, 4]
    peg = outcome["PEG-3"]
    assert (peg["baseline"], peg["latest"], peg["response"]) == (7.0, 4.0, True)
    assert outcome["GAD-7"]["series"] == []
    panel = services.course_outcome_panel(course.id)
    assert str(panel["chart"]).startswith("<svg") and 'data-code="PEG-3"' in str(panel["chart"])

"""The outcome report reads each course's kept result (`clinic.outcomes.results`): judged
once, judged again whenever something it was judged from changes, whoever changes it.

Wrong before: every report judged every course of its range again, reading each one's
sessions and answers (20 sites, one year: 3,900 courses, about a second a request).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes import results
from clinic.outcomes.models import CourseOutcome, QuestionnaireResponse
from clinic.scheduling import sites
from clinic.scheduling.models import Appointment, Device
from tests.factories import ApiClient, make_course, make_patient
from tests.outcomes.conftest import START, deliver, phq9
from tests.outcomes.test_report import REPORT, a_course, answered, hand_made_clinic


def itt(client: Any, url: str = REPORT) -> tuple[int, int, int]:
    cohort = client.get(url).get_json()["total"]["intent_to_treat"]
    return cohort["n"], cohort["responders"], cohort["remitters"]


def test_a_report_judges_no_course_again_unless_it_changed(
    api: ApiClient, clinician: Any, count_queries: Any
) -> None:
    hand_made_clinic()
    client = api.as_(clinician)
    first = client.get(REPORT).get_json()
    with count_queries() as again:
        assert client.get(REPORT).get_json() == first
    read = " ".join(again.statements)
    assert "questionnaire_responses" not in read
    assert "appointments" not in read
    assert db.session.scalar(select(CourseOutcome.stale).limit(1)) is False


def test_an_answer_given_after_a_report_counts_in_the_next(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    course = a_course("10hz-ldlpfc", "completed", 5, (20,))  # no end score yet
    assert itt(client) == (1, 0, 0)
    answered(course, "PHQ-9", 4, START + timedelta(days=6))
    db.session.commit()
    assert itt(client) == (1, 1, 1)
    # corrected on paper: 14, no longer a remission
    response = db.session.scalars(
        select(QuestionnaireResponse).order_by(QuestionnaireResponse.id.desc())
    ).first()
    assert response is not None
    response.score = 14
    db.session.commit()
    assert itt(client) == (1, 0, 0)
    db.session.delete(response)
    db.session.commit()
    assert itt(client) == (1, 0, 0)
    assert client.get(REPORT).get_json()["total"]["intent_to_treat"]["judged"] == 0


def test_a_session_undone_or_moved_changes_the_cohort(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    course = a_course("10hz-ldlpfc", "completed", 1, (20, 8))
    assert itt(client) == (1, 1, 0)
    session = db.session.scalars(
        select(Appointment).where(Appointment.course_id == course.id)
    ).one()
    session.status = "cancelled"  # the only delivered session: the course was never treated
    db.session.commit()
    assert itt(client) == (0, 0, 0)
    session.status = "completed"
    session.starts_at = datetime(2025, 4, 7, 13, 0, tzinfo=START.tzinfo)  # into April: Q2
    session.ends_at = session.starts_at + timedelta(minutes=40)
    db.session.commit()
    assert itt(client) == (0, 0, 0)
    assert itt(client, REPORT.replace("2025-03-31", "2025-06-30"))[0] == 1


def test_a_new_course_and_a_medication_count_in_the_next_report(
    api: ApiClient, clinician: Any
) -> None:
    client = api.as_(clinician)
    course = a_course("10hz-ldlpfc", "completed", 5, (20, 8))
    assert itt(client) == (1, 1, 0)
    a_course("10hz-ldlpfc", "completed", 5, (20, 4))
    assert itt(client) == (2, 2, 1)
    client.post(
        f"/api/v1/patients/{course.patient_id}/medications",
        json={"drug": "oxycodone", "category": "opioid", "dose_mg": 10, "doses_per_day": 2,
              "started_on": "2024-01-01"},
    )  # fmt: skip
    load = client.get(REPORT).get_json()["total"]["medication_load"]["opioid"]
    assert (load["n"], load["mean_baseline"]) == (1, 30.0)


def test_a_course_moved_to_another_patient_takes_that_patients_medications(
    api: ApiClient, clinician: Any
) -> None:
    client = api.as_(clinician)
    course = a_course("10hz-ldlpfc", "completed", 5, (20, 8))
    other = make_patient()
    client.post(
        f"/api/v1/patients/{other.id}/medications",
        json={"drug": "diazepam", "category": "benzodiazepine", "dose_mg": 5,
              "doses_per_day": 1, "started_on": "2024-01-01"},
    )  # fmt: skip
    assert client.get(REPORT).get_json()["total"]["medication_load"]["benzodiazepine"]["n"] == 0
    course.patient_id = other.id  # a duplicate record merged
    db.session.commit()
    assert client.get(REPORT).get_json()["total"]["medication_load"]["benzodiazepine"]["n"] == 1


def test_a_chair_moved_to_another_site_moves_its_courses(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    paris = sites.create_site(name="Paris", timezone="Europe/Paris", holidays="FR", actor_id=None)
    course = make_course(make_patient(), planned_sessions=5)
    chair = deliver(course, 3)[0].device
    db.session.commit()
    assert itt(client, f"{REPORT}&site_id={paris.id}")[0] == 0
    moved = db.session.get(Device, chair.id)
    assert moved is not None
    moved.site_id = paris.id
    db.session.commit()
    assert itt(client, f"{REPORT}&site_id={paris.id}")[0] == 1


def test_another_time_zone_judges_every_course_again(
    app: Flask, api: ApiClient, clinician: Any
) -> None:
    """22:00 on 31 March in New York is 1 April in UTC: the course moves to Q2."""
    client = api.as_(clinician)
    late = datetime.fromisoformat("2025-03-31T22:00-04:00")
    a_course("10hz-ldlpfc", "completed", 1, (20, 8), start=late)
    quarters = client.get(REPORT.replace("2025-03-31", "2025-06-30")).get_json()["strata"]
    assert [q["label"] for q in quarters["quarter"]] == ["2025-Q1"]
    app.config["CLINIC_TIMEZONE"] = "UTC"
    try:
        quarters = client.get(REPORT.replace("2025-03-31", "2025-06-30")).get_json()["strata"]
        assert [q["label"] for q in quarters["quarter"]] == ["2025-Q2"]
    finally:
        app.config["CLINIC_TIMEZONE"] = "America/New_York"


def test_a_deleted_course_leaves_the_report(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    course = a_course("10hz-ldlpfc", "completed", 2, (20, 8))
    assert itt(client)[0] == 1
    for model in (QuestionnaireResponse, Appointment):
        for row in db.session.scalars(select(model).where(model.course_id == course.id)):
            db.session.delete(row)
    db.session.delete(course)
    db.session.commit()
    assert itt(client)[0] == 0


def test_rows_written_past_the_orm_count_once_marked(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    course = a_course("10hz-ldlpfc", "completed", 5, (20, 8))
    assert itt(client) == (1, 1, 0)
    db.session.execute(
        QuestionnaireResponse.__table__.update()
        .where(QuestionnaireResponse.course_id == course.id, QuestionnaireResponse.score == 8)
        .values(score=3)
    )
    results.mark_all()
    db.session.commit()
    assert itt(client) == (1, 1, 1)


def test_reports_side_by_side_judge_the_stale_courses_once_and_agree(
    app: Flask, api: ApiClient, clinician: Any
) -> None:
    hand_made_clinic()
    client = api.as_(clinician)
    barrier = threading.Barrier(4)
    answers: list[tuple[int, Any]] = []

    def report() -> None:
        barrier.wait(timeout=30)
        answer = client.get(REPORT)
        answers.append((answer.status_code, answer.get_json()["total"]))

    threads = [threading.Thread(target=report) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [status for status, _total in answers] == [200] * 4
    assert all(total == answers[0][1] for _status, total in answers)
    assert answers[0][1]["intent_to_treat"]["n"] == 6


def test_the_refresh_command_judges_the_stale_courses_ahead_of_a_report(
    app: Flask, api: ApiClient, clinician: Any
) -> None:
    a_course("10hz-ldlpfc", "completed", 5, (20, 8))
    a_course("10hz-ldlpfc", "completed", 5, (20, 4))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["outcomes", "refresh"]).output == "2 course result(s) judged\n"
    assert runner.invoke(args=["outcomes", "refresh"]).output == "0 course result(s) judged\n"
    again = runner.invoke(args=["outcomes", "refresh", "--all"])
    assert again.output == "2 course result(s) judged\n"
    db.session.rollback()
    assert not db.session.scalars(select(CourseOutcome).where(CourseOutcome.stale)).all()
    assert itt(api.as_(clinician)) == (2, 2, 1)


def test_an_answer_saved_while_a_report_judges_its_course_is_not_lost(
    app: Flask, api: ApiClient, clinician: Any, monkeypatch: Any
) -> None:
    """The answer commits after the refresh read the course's answers and before it
    stores the result. Its mark must outlive the refresh: PostgreSQL's answer waits for
    the refresh's row lock, SQLite's for its write lock; then it marks the course again."""
    client = api.as_(clinician)
    course = a_course("10hz-ldlpfc", "completed", 5, (20,))  # stale: never judged
    course_id = course.id
    db.session.rollback()  # this thread holds no snapshot while the others write
    judged, release = threading.Event(), threading.Event()
    judge = results.judge_courses

    def judge_then_wait(course_ids: Any) -> Any:
        found = judge(course_ids)
        judged.set()
        release.wait(timeout=30)
        return found

    monkeypatch.setattr(results, "judge_courses", judge_then_wait)

    def refresh() -> None:
        with app.app_context():
            results.refresh()
            db.session.commit()

    def answer() -> None:
        with app.app_context():
            late = db.session.get(Course, course_id)
            assert late is not None
            answered(late, "PHQ-9", 4, START + timedelta(days=6))
            db.session.commit()

    refreshing = threading.Thread(target=refresh)
    refreshing.start()
    assert judged.wait(timeout=30)
    answering = threading.Thread(target=answer)
    answering.start()
    answering.join(timeout=1.0)
    release.set()
    refreshing.join(timeout=60)
    answering.join(timeout=60)
    monkeypatch.undo()
    assert itt(client) == (1, 1, 1)


def test_a_session_of_its_own_outside_the_app_marks_what_it_changes(
    api: ApiClient, clinician: Any
) -> None:
    """A script's or a job's own session, flushing where no app context exists."""
    client = api.as_(clinician)
    course = a_course("10hz-ldlpfc", "completed", 5, (20,))
    assert itt(client) == (1, 0, 0)
    engine, patient_id, course_id = db.engine, course.patient_id, course.id
    db.session.rollback()

    def answer() -> None:
        with Session(engine) as own:
            own.add(
                QuestionnaireResponse(
                    patient_id=patient_id, course_id=course_id, instrument="PHQ-9",
                    answers=phq9(4), score=4, source="staff",
                    administered_at=START + timedelta(days=6),
                )
            )  # fmt: skip
            own.commit()

    thread = threading.Thread(target=answer)
    thread.start()
    thread.join(timeout=30)
    assert itt(client) == (1, 1, 1)

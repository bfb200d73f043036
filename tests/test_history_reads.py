"""What a page or a routine action reads stays the size of its answer as the history grows.

Sessions, their logs and messages are kept for good, so a read of one of those tables
that no index narrows gets slower every week. The query plans asserted here hold with
these few rows as with years of them (`QueryCounter.plans`); which index a read takes is
asserted on SQLite, which picks by rule. Each test fails without the change it names
(migration 0019 and the queries it serves; README "Performance" has the figures)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from clinic import clock
from clinic.alerts.services import count_open_urgent, flagged_alerts
from clinic.courses.authorization import authorization_meters
from clinic.exports.feeds import create_feed, feed_calendar
from clinic.extensions import db
from clinic.outcomes import services as outcomes
from clinic.outcomes.hints import course_hints
from clinic.paging import Cursor
from clinic.patients.search import search_patients
from clinic.reminders.inbound_sms import handle_inbound_sms
from clinic.reminders.queries import list_reminders
from clinic.scheduling import sites, technicians
from clinic.treatments.supervision import proposed_supervisor
from tests.courses.conftest import make_authorization
from tests.factories import login, make_course, make_patient, make_user
from tests.outcomes.conftest import course_with_phq9, phq9


def test_the_alerts_badge_of_a_user_of_one_site_asks_about_each_alerts_patient(
    app: Flask, backend: str, count_queries: Any
) -> None:
    """Every page counts the user's open urgent alerts; for a user limited to sites it
    asked whether the patient is among everyone ever booked there."""
    user = make_user("front_desk")
    sites.set_user_sites(user.id, [sites.get_site().id], actor_id=None)
    db.session.commit()
    with count_queries() as sent:
        count_open_urgent(user.id)
    assert sent.whole_table_reads("appointments") == []
    if backend == "sqlite":
        reads = sent.plans("appointments")
        assert reads and all("(patient_id=?)" in line for line in reads), reads


def test_a_days_reminders_at_a_site_are_read_by_their_due_time(
    app: Flask, backend: str, count_queries: Any
) -> None:
    """Every message ever sent is kept: the front desk's list of a day read them all,
    and asked whether each was among every appointment ever booked at the site."""
    start = clock.now().replace(hour=0, minute=0)
    with count_queries() as sent:
        list_reminders(since=start, until=start + timedelta(days=1), site_ids={sites.get_site().id})
    assert sent.whole_table_reads("reminders") == []
    if backend == "sqlite":
        reads = sent.plans("appointments")
        assert reads and all("(rowid=?)" in line or "(patient_id=?)" in line for line in reads)


def test_a_technicians_overlapping_session_is_looked_for_around_the_time(
    app: Flask, backend: str, count_queries: Any
) -> None:
    """Asked at every check-in: on SQLite it read every session the technician ever had
    (PostgreSQL asks the technician's exclusion constraint, a range index of its own)."""
    technician = make_user("technician")
    start = clock.now()
    with count_queries() as sent:
        technicians.overlapping(technician.id, start, start + timedelta(minutes=30))
    assert sent.whole_table_reads("appointments") == []
    if backend == "sqlite":
        reads = sent.plans("appointments")
        assert reads and all("technician_id=? AND starts_at>? AND starts_at<?" in x for x in reads)


def test_a_calendar_feed_reads_the_coming_weeks_only(
    app: Flask, backend: str, count_queries: Any
) -> None:
    """Calendar clients poll it: it read every past session of the technician."""
    technician = make_user("technician")
    feed, _token = create_feed(actor=technician, technician_id=technician.id)
    with count_queries() as sent:
        feed_calendar(feed)
    assert sent.whole_table_reads("appointments") == []
    if backend == "sqlite":
        reads = sent.plans("appointments")
        assert reads and all("starts_at>? AND starts_at<?" in line for line in reads), reads


def test_the_log_forms_physician_on_duty_is_read_from_todays_logs(
    app: Flask, count_queries: Any
) -> None:
    course = make_course()
    with count_queries() as sent:
        proposed_supervisor(course)
    assert sent.plans("treatment_logs")
    assert sent.whole_table_reads("treatment_logs") == []


def test_an_authorizations_meter_counts_its_own_courses(app: Flask, count_queries: Any) -> None:
    """Shown on the board, the chart and at every booking."""
    patient = make_patient()
    course = make_course(patient, authorization_id=make_authorization(patient).id)
    with count_queries() as sent:
        authorization_meters([course])
    assert sent.plans("courses")
    assert sent.whole_table_reads("courses") == []
    assert sent.whole_table_reads("appointments") == []


def test_a_submitted_link_finds_its_assignments_by_the_link(app: Flask, count_queries: Any) -> None:
    course = make_course()
    _link, url = outcomes.create_link(course.patient_id, "PHQ-9")
    with count_queries() as sent:
        outcomes.submit_link(url.rsplit("/", 1)[1], phq9(5))
    assert sent.plans("questionnaire_assignments")
    assert sent.whole_table_reads("questionnaire_assignments") == []


def test_an_sms_opt_out_finds_the_patients_by_their_number(app: Flask, count_queries: Any) -> None:
    patient = make_patient(phone="+15555550123", sms_consent=True)
    with count_queries() as sent:
        assert handle_inbound_sms(patient.phone, "STOP") == 1
    assert sent.plans("patients")
    assert sent.whole_table_reads("patients") == []


def test_the_scheduler_page_counts_what_waits_and_the_last_days_messages(
    app: Flask, client: FlaskClient, count_queries: Any
) -> None:
    """Its outbox totals went through every message ever sent at each view."""
    from clinic.reminders.models import Reminder

    patient = make_patient()
    now = clock.now()

    def reminder(status: str, due_at: datetime) -> None:
        db.session.add(
            Reminder(
                kind="email_24h",
                channel="email",
                status=status,
                patient_id=patient.id,
                due_at=due_at,
                next_attempt_at=due_at,
                sent_at=due_at if status == "sent" else None,
            )
        )

    reminder("pending", now + timedelta(hours=2))
    reminder("sent", now - timedelta(hours=3))
    reminder("failed", now - timedelta(hours=5))
    reminder("sent", now - timedelta(days=40))
    db.session.commit()
    login(client, make_user("admin"))
    with count_queries() as sent:
        page = client.get("/admin/scheduler").get_data(as_text=True)
    assert sent.whole_table_reads("reminders", but="ix_reminders_open_next_attempt") == []
    waiting, recent = page.split("Waiting or being sent", 1)[1].split("Due in the last 24 hours")
    assert re.search(r"<dt>pending</dt>\s*<dd>1</dd>", waiting) and "sent" not in waiting
    # The message sent 40 days ago is not counted.
    assert re.search(r"<dt>sent</dt>\s*<dd>1</dd>", recent)
    assert re.search(r"<dt>failed</dt>\s*<dd>1</dd>", recent) and "pending" not in recent


@pytest.mark.parametrize(
    ("role", "path", "tables"),
    [
        # A clinician's home page: it read every course and screening ever made.
        ("clinician", "/inbox", ("courses", "screenings")),
        # What waits on a payer or lapses soon: it read every authorization and course.
        ("front_desk", "/billing/authorizations", ("authorizations", "courses")),
    ],
)
def test_a_worklist_reads_only_what_waits(
    app: Flask, client: FlaskClient, count_queries: Any, role: str, path: str, tables: Any
) -> None:
    login(client, make_user(role))
    with count_queries() as sent:
        assert client.get(path).status_code == 200
    for table in tables:
        assert sent.plans(table)
        assert sent.whole_table_reads(table) == []


def test_the_alerts_that_still_flag_a_patient_are_read_from_their_own_index(
    app: Flask, backend: str, count_queries: Any
) -> None:
    """On every alerts page: they are few, but were found by walking every acknowledged
    alert ever raised, newest first, for rows that were almost never there."""
    with count_queries() as sent:
        flagged_alerts(10)
    reads = sent.plans("alerts")
    assert reads and sent.whole_table_reads("alerts", but="ix_alerts_flagged") == []
    if backend == "sqlite":
        assert all("ix_alerts_flagged" in line for line in reads), reads


@pytest.mark.parametrize(
    ("path", "table"),
    [
        # The logs still to sign, of every course: it walked every session ever given.
        ("/api/v1/treatments?status=unsigned", "treatment_logs"),
        # A range of answers: it read every answer ever given.
        (
            "/api/v1/exports/outcomes.csv?from=2026-01-01&to=2026-02-01",
            "questionnaire_responses",
        ),
    ],
)
def test_an_api_list_reads_its_range(
    app: Flask, api: Any, backend: str, count_queries: Any, path: str, table: str
) -> None:
    admin = make_user("admin")
    with count_queries() as sent:
        assert api.as_(admin).get(path).status_code == 200
    assert sent.plans(table)
    assert sent.whole_table_reads(table) == []
    assert sent.whole_table_reads("appointments") == []


def test_a_course_page_asks_for_a_follow_up_course_by_its_previous_one(
    app: Flask, count_queries: Any
) -> None:
    """The extension hint of a partial responder: it read every course ever prescribed."""
    course = course_with_phq9(20, 14, status="completed")  # 30% better: a partial response
    with count_queries() as sent:
        assert [hint.code for hint in course_hints(course)] == ["suggest_extension"]
    assert sent.plans("courses")
    assert sent.whole_table_reads("courses") == []


@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("/api/v1/audit?", "audit_events"),
        ("/api/v1/reminders?", "reminders"),
        ("/api/v1/alerts?status=acknowledged&", "alerts"),
    ],
)
def test_a_later_page_seeks_to_its_cursor(
    app: Flask, api: Any, backend: str, count_queries: Any, path: str, table: str
) -> None:
    """The trail, the outbox and the alerts' history page by cursor. Asked for as `at < x
    OR (at = x AND id < y)`, the next page read the index down from the newest row to the
    cursor, so page N cost N pages; as a row value, `(at, id) < (x, y)`, it seeks
    (`clinic.paging`). The alerts' history could not be paged at all."""
    admin = make_user("admin")
    cursor = Cursor(clock.now() - timedelta(days=30), 10**6).encode()
    with count_queries() as sent:
        assert api.as_(admin).get(f"{path}cursor={cursor}").status_code == 200
    assert sent.whole_table_reads(table) == []
    if backend == "sqlite":
        reads = sent.plans(table)
        assert reads and all(re.search(r"(at|due_at|created_at)<\?\)", line) for line in reads), (
            reads
        )


@pytest.mark.parametrize("query", ["riv jam", "(212) 555-0123"])
def test_patient_search_reads_its_matches_through_trigrams(
    app: Flask, backend: str, count_queries: Any, query: str
) -> None:
    """A fragment anywhere in a name or a phone is what no ordinary index narrows: each
    search read every patient (93-213 ms at 100,000). Migration 0020's trigrams do."""
    with count_queries() as sent:
        search_patients(query)
    assert sent.whole_table_reads("patients") == []
    if backend == "postgresql":
        # With a test's few rows PostgreSQL would rather walk the name index in order;
        # kept from that as from a whole-table read, it must find a trigram index that
        # serves the search's own expressions.
        db.session.execute(text("SET enable_indexscan = off"))
        plan = sent.explain("patients")
        db.session.execute(text("RESET enable_indexscan"))
        assert any("Bitmap Index Scan on ix_patients_search_" in line for line in plan), plan
    else:
        assert any("patients_search VIRTUAL TABLE" in line for line in sent.explain("patients"))

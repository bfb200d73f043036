"""The clinic report picks each course's baseline and end-of-course answers in SQL from
the phases' bounds as instants (`Window.bounds`); the course page sorts every answer in
Python (`analysis.summarize`). On courses built to sit on every edge of the rules (check-in
after the start, after the log, the 7th day's last minutes and the 8th's first, two
answers at one instant, no baseline, only follow-ups, a DST change, a log before the
start), the report judges every course as its page does, on SQLite and PostgreSQL.

Wrong before: nothing (the report sorted the answers in Python too); this holds the SQL to
the page's rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes import judging, services
from tests.factories import make_appointment, make_course, make_device, make_patient
from tests.outcomes.conftest import START, phq9
from tests.outcomes.test_report_sites import sleep_answers


def course_with(
    answers: list[tuple[str, int, datetime]],
    *,
    first: datetime = START,
    sessions: int = 5,
    logged_after: timedelta | None = None,
) -> Course:
    """`sessions` delivered daily from `first` (the first logged `logged_after` its start
    when given, else unlogged), and `(instrument, score, administered_at)` answers in order
    of entry."""
    course = make_course(make_patient(), planned_sessions=sessions)
    chair = make_device()
    for n in range(sessions):
        starts = first + timedelta(days=n)
        logged = starts + logged_after if logged_after is not None and n == 0 else None
        make_appointment(
            course, starts, device=chair, sequence=n + 1, status="completed", delivered_at=logged
        )
    for instrument, score, at in answers:
        given = {"PHQ-9": phq9, "PEG-3": lambda s: [s] * 3, "PROMIS-SD-8a": sleep_answers}
        services.record_response(
            course.patient_id,
            instrument,
            given[instrument](score),
            course.id,
            "staff",
            None,
            administered_at=at,
        )
    db.session.commit()
    return course


def edge_cases() -> list[Course]:
    last = START + timedelta(days=4)  # 7 March, 09:00 New York
    seventh_day_over = datetime(2025, 3, 15, 3, tzinfo=UTC)  # 23:00 on 14 March, New York
    return [
        # check-in after the 09:00 start, the log at 10:05: still the baseline
        course_with(
            [("PHQ-9", 20, START + timedelta(minutes=20)), ("PHQ-9", 9, last + timedelta(days=1))],
            logged_after=timedelta(minutes=65),
        ),
        # after the log the same day: a course answer, the paper baseline 3 days before wins
        course_with(
            [
                ("PHQ-9", 22, START - timedelta(days=3)),
                ("PHQ-9", 12, START + timedelta(hours=3)),
                ("PEG-3", 7, START - timedelta(days=3)),
                ("PEG-3", 3, START + timedelta(hours=3)),
            ],
            logged_after=timedelta(minutes=65),
        ),
        # the 7th day after the last session at 23:00 New York counts; 00:30 on the 8th not
        course_with(
            [
                ("PHQ-9", 18, START - timedelta(days=1)),
                ("PHQ-9", 8, seventh_day_over),
                ("PHQ-9", 2, seventh_day_over + timedelta(minutes=90)),
                ("PROMIS-SD-8a", 30, START - timedelta(days=1)),
                ("PROMIS-SD-8a", 20, seventh_day_over),
            ],
        ),
        # two answers at one instant: the later entry is the one
        course_with(
            [
                ("PHQ-9", 20, START - timedelta(days=1)),
                ("PHQ-9", 21, START - timedelta(days=1)),
                ("PHQ-9", 4, last + timedelta(days=2)),
                ("PHQ-9", 9, last + timedelta(days=2)),
            ],
        ),
        # no baseline; then only follow-ups
        course_with([("PHQ-9", 9, last + timedelta(days=3))]),
        course_with(
            [("PHQ-9", 19, START - timedelta(days=2)), ("PHQ-9", 3, last + timedelta(days=91))]
        ),
        # across 9 March's DST change, logged 30 minutes before the start
        course_with(
            [
                ("PHQ-9", 24, datetime(2025, 3, 8, 13, tzinfo=UTC)),
                ("PHQ-9", 10, datetime(2025, 3, 8, 14, 10, tzinfo=UTC)),
                ("PHQ-9", 6, datetime(2025, 3, 20, 3, 30, tzinfo=UTC)),
            ],
            first=datetime(2025, 3, 8, 14, tzinfo=UTC),
            logged_after=timedelta(minutes=-30),
        ),
    ]


def test_the_report_judges_every_course_as_its_page_does(app: Any) -> None:
    courses = edge_cases()
    results = judging.judge_courses([course.id for course in courses])
    assert sorted(results) == sorted(course.id for course in courses)
    for course in courses:
        result = results[course.id]
        for code, judged in (
            ("PHQ-9", result.mood),
            ("PEG-3", result.pain),
            ("PROMIS-SD-8a", result.sleep),
        ):
            expected = services.summarize_course(course.id)["instruments"][code]
            assert judged["baseline"] == expected["baseline"], (course.id, code)
            ended = judged["end"] if judged["end"] is not None else judged["baseline"]
            assert ended == expected["latest"], (course.id, code)
            for key in ("response", "remission", "improvement"):
                assert judged[key] == expected[key], (course.id, code, key)
    by_hand = [(results[c.id].mood["baseline"], results[c.id].mood["end"]) for c in courses]
    assert by_hand == [(20, 9), (22, 12), (18, 8), (21, 9), (None, 9), (19, None), (24, 6)]
    assert (results[courses[1].id].pain["baseline"], results[courses[1].id].pain["end"]) == (7, 3)
    assert results[courses[2].id].sleep["end"] == 50.1

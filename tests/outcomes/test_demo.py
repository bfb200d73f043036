"""The demo step gives every course with delivered sessions its mood and pain curves."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, select

from clinic.alerts.models import Alert
from clinic.demo import DemoContext
from clinic.demo.outcomes import load_outcomes
from clinic.extensions import db
from clinic.outcomes.models import QuestionnaireResponse
from clinic.outcomes.services import course_outcomes
from tests.factories import make_course, make_patient
from tests.outcomes.conftest import deliver


def context(large: bool) -> DemoContext:
    return DemoContext(rng=random.Random(3), patients=2, years=1, devices=1, large=large)


def test_demo_answers_follow_the_delivered_sessions(app: Any) -> None:
    course = make_course(make_patient(), planned_sessions=20)
    deliver(course, 20)
    make_course(make_patient())  # no sessions yet: no curve, but an open item-9 alert
    ctx = context(large=False)
    load_outcomes(ctx)
    db.session.commit()
    outcomes = course_outcomes(course.id, viewer_id=None)["instruments"]
    phq = outcomes["PHQ-9"]
    assert len(phq["series"]) == 5  # baseline + after sessions 5, 10, 15, 20
    sleep = outcomes["PROMIS-SD-8a"]
    assert len(sleep["series"]) == 2 and sleep["baseline"] >= sleep["latest"]
    assert phq["baseline"] is not None and phq["response"] is not None
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 1


def test_the_large_demo_inserts_in_bulk_without_alerts(app: Any) -> None:
    for _ in range(3):
        deliver(make_course(make_patient(), planned_sessions=10), 10)
    load_outcomes(context(large=True))
    db.session.commit()
    # PHQ-9 and PEG-3 at three moments each, sleep at the first and the last.
    assert db.session.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 3 * (
        3 * 2 + 2
    )
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0

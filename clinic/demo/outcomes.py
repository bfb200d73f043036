"""Demo questionnaire answers: mood and pain curves for every course with delivered
sessions, and sleep (PROMIS-SD-8a) at its baseline and its latest answer.

Responses are generated in memory and bulk-inserted (no ORM object per row), so the
large demo (5,000 patients over years) stays fast. The small demo also records one
item-9 answer through the real service, so the alerts page has something to show.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from clinic.courses.models import Course, CourseStatus
from clinic.demo.context import DemoContext
from clinic.extensions import db
from clinic.outcomes import cadence, results
from clinic.outcomes.catalog import get_instrument
from clinic.outcomes.models import QuestionnaireResponse, ResponseSource
from clinic.outcomes.services import record_response
from clinic.scheduling.models import Appointment, AppointmentStatus

CHUNK = 5000
EVERY = 5  # delivered sessions between questionnaires, as the default cadence asks


def _phq9_answers(rng: random.Random, total: int) -> list[int]:
    """Nine answers summing to `total` (item 9 stays 0: the demo alert is made apart)."""
    answers = [0] * 9
    for _ in range(total):
        candidates = [i for i in range(8) if answers[i] < 3]
        answers[rng.choice(candidates)] += 1
    return answers


def _peg3_answers(rng: random.Random, level: float) -> list[int]:
    return [max(0, min(10, round(level + rng.uniform(-1, 1)))) for _ in range(3)]


def _sleep_answers(raw: int) -> list[int]:
    """PROMIS-SD-8a answers (positions as printed) whose raw score is `raw` (8-40)."""
    sleep = get_instrument("PROMIS-SD-8a")
    scores, extra = [1] * len(sleep.items), raw - len(sleep.items)
    for index in range(len(scores)):
        scores[index] += min(4, extra)
        extra -= min(4, extra)
    return [item.scored(score) for item, score in zip(sleep.items, scores, strict=True)]


def _rows_for_course(
    rng: random.Random, course_id: int, patient_id: int, starts: list[datetime]
) -> list[dict[str, Any]]:
    """Baseline before the first session, then every 5th session, improving or not."""
    phq, peg, sleep = (get_instrument(c) for c in ("PHQ-9", "PEG-3", "PROMIS-SD-8a"))
    mood, pain = rng.randint(13, 24), rng.uniform(5, 8.5)
    gain = rng.choice((0.15, 0.35, 0.55, 0.75))  # the fraction of symptoms that lifts
    moments = [starts[0] - timedelta(days=2)] + [
        starts[i] + timedelta(hours=1) for i in range(EVERY - 1, len(starts), EVERY)
    ]
    rows = []
    for step, at in enumerate(moments):
        progress = step / max(len(moments) - 1, 1)
        mood_now = max(0, min(24, round(mood * (1 - gain * progress) + rng.randint(-1, 1))))
        pain_now = max(0.0, pain * (1 - gain * 0.8 * progress))
        answered = [(phq, _phq9_answers(rng, mood_now)), (peg, _peg3_answers(rng, pain_now))]
        if step in (0, len(moments) - 1):  # sleep: at baseline and the latest answer
            raw = min(40, 14 + mood)
            answered.append((sleep, _sleep_answers(round(raw - (raw - 14) * gain * progress))))
        for spec, answers in answered:
            scored = spec.score(answers)
            rows.append(
                {
                    "patient_id": patient_id,
                    "course_id": course_id,
                    "instrument": spec.code,
                    "answers": answers,
                    "score": float(scored.score),
                    "severity": scored.severity,
                    "flags": [],
                    "source": ResponseSource.LINK,
                    "answered_at": at,
                    "administered_at": at,
                }
            )
    return rows


def load_outcomes(ctx: DemoContext) -> None:
    delivered: dict[int, list[datetime]] = defaultdict(list)
    for course_id, starts_at in db.session.execute(
        select(Appointment.course_id, Appointment.starts_at)
        .where(Appointment.status == AppointmentStatus.COMPLETED)
        .order_by(Appointment.course_id, Appointment.starts_at)
    ):
        delivered[course_id].append(starts_at)
    courses = db.session.execute(select(Course.id, Course.patient_id, Course.status)).all()
    rows: list[dict[str, Any]] = []
    for course_id, patient_id, _status in courses:
        if delivered.get(course_id):
            rows.extend(_rows_for_course(ctx.rng, course_id, patient_id, delivered[course_id]))
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(QuestionnaireResponse), rows[start : start + CHUNK])
    ctx.lines.append(f"Outcomes: {len(rows)} questionnaire answers")
    if ctx.large:
        return
    running = [c for c in courses if c.status == CourseStatus.ACTIVE]
    for course_id, _patient_id, _status in running:
        cadence.ensure_baseline(db.session.get_one(Course, course_id))
    if running:
        course_id, patient_id, _status = running[-1]
        record_response(
            patient_id, "PHQ-9", [2, 2, 1, 2, 1, 1, 1, 0, 1], course_id, ResponseSource.LINK, None
        )
        ctx.lines.append("Outcomes: one open item-9 alert to acknowledge on the Alerts page")


def judge_outcomes(ctx: DemoContext) -> None:
    """The demo's rows went in past the ORM, which marks what a report must judge again:
    mark every treated course, and judge them now rather than at the first report."""
    results.mark_all()
    ctx.lines.append(f"Outcomes: {results.refresh()} courses judged for the outcome report")

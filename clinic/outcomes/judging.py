"""Each treated course's result as the clinic report counts it, judged in bulk.

A course's baseline and end-of-course score, per instrument, are the last answers of
those phases; SQL picks them from each course's phase bounds (`analysis.Window.bounds`,
the instants the course page's `summarize` sorts by), and `analysis.course_result` judges
each pair by the page's rules. PHQ-9 gives response and remission (CONTRACT 8: follow-ups
never change them), PEG-3 the improvement reached, PROMIS-SD-8a the sleep T-scores. The
opioid and benzodiazepine loads are those of the first and last delivered days.

A fixed number of bounded queries for any number of courses: their progress; their
baseline and end scores; their sites; their patients' opioids and benzodiazepines.
`clinic.outcomes.results` keeps what this finds, so a report judges each course once.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Integer, and_, bindparam, column, func, not_, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from clinic import clock
from clinic.courses.models import Course
from clinic.db import UTCDateTime
from clinic.extensions import db
from clinic.outcomes.analysis import course_result
from clinic.outcomes.catalog import Instrument, get_instrument
from clinic.outcomes.models import QuestionnaireResponse
from clinic.outcomes.services import course_window
from clinic.patients.medications import MedicationLoad, load_of
from clinic.patients.models import Medication, MedicationCategory
from clinic.scheduling.progress import course_progress, delivered_sites

MOOD, PAIN, SLEEP = "PHQ-9", "PEG-3", "PROMIS-SD-8a"
PAIN_BANDS: tuple[tuple[str, float | None], ...] = (("<4", 4), ("4-6", 7), (">=7", None))
"""Baseline PEG-3 bands (label, below): mild, moderate, severe pain."""
UNMEASURED = "not measured"
JUDGING = 1
"""Change it with the judging code below: every kept result is then judged again."""


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class CourseResult:
    """One treated course, judged by the course page's rules."""

    course_id: int
    first_delivered_at: datetime
    quarter: str  # of the first delivered treatment, on the clinic's calendar
    sites: frozenset[int]  # where its treatments were delivered
    mood: dict[str, Any]  # analysis.course_result() of PHQ-9
    pain: dict[str, Any]  # ... of PEG-3
    sleep: dict[str, Any]  # ... and of PROMIS-SD-8a
    load: tuple[MedicationLoad, MedicationLoad]  # on the first and last delivered days

    @property
    def pain_band(self) -> str:
        """Baseline pain (PEG-3): depressed patients in severe pain respond less often."""
        baseline = self.pain["baseline"]
        if baseline is None:
            return UNMEASURED
        return next(label for label, below in PAIN_BANDS if below is None or baseline < below)


Bounds = tuple[datetime, datetime, datetime]
"""A course's phases as instants (`Window.bounds`)."""


def _bounds_table(bounds: dict[int, Bounds]) -> Any:
    """The courses' bounds as a table `(course_id, first_at, baseline_before,
    course_before)` from one JSON parameter: one statement whatever the number of
    courses, compiled once (a VALUES list of thousands of parameters took longer to
    compile than the report to compute). SQLite compares instants as the text it stores
    them in, and materialises the table so each course's JSON is parsed once."""
    names = ("first_at", "baseline_before", "course_before")
    if db.session.get_bind().dialect.name == "postgresql":
        rows = [
            {
                "course_id": course_id,
                **{n: at.isoformat() for n, at in zip(names, instants, strict=True)},
            }
            for course_id, instants in bounds.items()
        ]
        return (
            func.jsonb_to_recordset(bindparam("bounds", rows, type_=JSONB))
            .table_valued(column("course_id", Integer), *(column(n, UTCDateTime()) for n in names))
            .render_derived(name="bounds", with_types=True)
        )
    stored = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DATETIME, in UTC
    listed = [
        [course_id, *(at.astimezone(UTC).strftime(stored) for at in instants)]
        for course_id, instants in bounds.items()
    ]
    each = func.json_each(json.dumps(listed)).table_valued("value")
    return (
        select(
            func.json_extract(each.c.value, "$[0]").label("course_id"),
            *(func.json_extract(each.c.value, f"$[{i}]").label(n) for i, n in enumerate(names, 1)),
        )
        .cte("bounds")
        .prefix_with("MATERIALIZED")
    )


def _last_scores(table: Any) -> list[Any]:
    """The baseline and end scores of PHQ-9, PEG-3 and PROMIS-SD-8a in turn, each the
    last answer of its phase, as six subqueries on `_bounds_table`'s row. Each walks one
    course's answers to one instrument down its index from the newest and stops at the
    first that fits, so only the scores that decide are read, whatever the number of
    answers and follow-ups. Ties on `administered_at`: the later entry, as `summarize`
    keeps the database's order."""
    answer, at = QuestionnaireResponse, QuestionnaireResponse.administered_at
    baseline = or_(at <= table.c.first_at, at < table.c.baseline_before)
    phases = (baseline, and_(not_(baseline), at < table.c.course_before))
    return [
        select(answer.score)
        .where(answer.course_id == table.c.course_id, answer.instrument == code, phase)
        .order_by(at.desc(), answer.id.desc())
        .limit(1)
        .scalar_subquery()
        for code in (MOOD, PAIN, SLEEP)
        for phase in phases
    ]


def _medications(table: Any) -> dict[int, list[Medication]]:
    """The opioids and benzodiazepines (all the load counts) of the courses' patients."""
    taken: dict[int, list[Medication]] = defaultdict(list)
    for medication in db.session.scalars(
        select(Medication).where(
            Medication.patient_id.in_(
                select(Course.patient_id).join(table, table.c.course_id == Course.id)
            ),
            Medication.category.in_((MedicationCategory.OPIOID, MedicationCategory.BENZODIAZEPINE)),
        )
    ):
        taken[medication.patient_id].append(medication)
    return taken


def judge_courses(course_ids: Collection[int]) -> dict[int, CourseResult]:
    """The results of those of `course_ids` that were treated (a session delivered)."""
    tz = clock.clinic_tz()
    treated = {
        course_id: done
        for course_id, done in course_progress(course_ids).items()
        if done.first_delivered_at is not None
    }
    if not treated:
        return {}
    table = _bounds_table(
        {
            course_id: bounds
            for course_id, done in treated.items()
            if (bounds := course_window(done, tz).bounds)
        }
    )
    scores = db.session.execute(
        select(Course.id, Course.patient_id, *_last_scores(table))
        .select_from(table)
        .join(Course, Course.id == table.c.course_id)
    ).all()
    sites = delivered_sites(sorted(treated))
    medications = _medications(table)
    judged: dict[tuple[str, float | None, float | None], dict[str, Any]] = {}

    def judge(instrument: Instrument, baseline: float | None, end: float | None) -> dict[str, Any]:
        """`course_result`, once per instrument and pair of scores (they repeat a lot; the
        courses share the answer, which nothing writes to)."""
        key = (instrument.code, baseline, end)
        if key not in judged:
            judged[key] = course_result(instrument, baseline, end)
        return judged[key]

    mood, pain, sleep = (get_instrument(code) for code in (MOOD, PAIN, SLEEP))
    results = {}
    for course_id, patient_id, *pairs in scores:
        done = treated[course_id]
        first_at = done.first_delivered_at
        assert first_at is not None  # only the treated are judged
        first = first_at.astimezone(tz).date()
        last = done.last_delivered_at.astimezone(tz).date() if done.last_delivered_at else first
        taken = medications.get(patient_id, [])
        results[course_id] = CourseResult(
            course_id,
            first_at,
            quarter_of(first),
            frozenset(sites.get(course_id, ())),
            judge(mood, *pairs[0:2]),
            judge(pain, *pairs[2:4]),
            judge(sleep, *pairs[4:6]),
            (load_of(taken, first), load_of(taken, last)),
        )
    return results


def basis() -> str:
    """What a kept result depends on beyond the rows it was judged from, as a digest: the
    rules of the three instruments, the pain bands, the clinic's time zone (its days and
    quarters) and `JUDGING`, this module's own reading of them."""
    instruments = [get_instrument(code) for code in (MOOD, PAIN, SLEEP)]
    rules = [(i.code, i.decimals, i.lower_is_better, i.outcome_rules) for i in instruments]
    named = repr((JUDGING, clock.clinic_tz().key, rules, PAIN_BANDS))
    return hashlib.sha256(named.encode()).hexdigest()[:16]

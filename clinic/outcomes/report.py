"""The clinic outcomes report, as registries count: intent to treat and completers.

Cohort: the courses first treated in the period (their first delivered session starts
between `from` and `to`, clinic days, inclusive), per protocol.
- intent to treat: every such course (at least one delivered treatment), discontinued,
  on hold and still running ones included;
- completers: those of them whose status is `completed`.
Response and remission are PHQ-9's end-of-course result (CONTRACT 8: follow-ups never
change it) in percent of `n`: a course without a baseline or an end score counts as not
responding and not remitting, so missing data never flatters the rates. Pain: the
courses with a PEG-3 baseline above 0; `response_30` and `response_50` are the shares
whose end score fell at least 30% and 50% (IMMPACT). Sleep: the courses with a
PROMIS-SD-8a baseline and end T-score; improved when the T-score fell at least
SLEEP_MID points (5: the minimal important difference commonly used for PROMIS T-scores,
half a standard deviation).

Sites: a course belongs to every site on whose devices one of its treatments was
delivered (almost always one). `site_ids` restricts the cohort to those sites' courses:
one chosen site, or the sites a staff member is limited to.

A fixed number of bounded queries whatever the number of courses and answers: the
cohort with its progress; its courses with their protocol and, per instrument, the
baseline and end-of-course scores, which SQL picks from each course's phase bounds
(`analysis.Window.bounds`, the instants the course page's `summarize` sorts by); its sites;
its patients' opioids and benzodiazepines. `analysis.course_result` judges each pair.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Integer, and_, bindparam, column, func, not_, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from clinic import clock
from clinic.courses.models import Course, CourseStatus, Protocol
from clinic.db import UTCDateTime
from clinic.extensions import db
from clinic.outcomes.analysis import course_result
from clinic.outcomes.catalog import Instrument, get_instrument
from clinic.outcomes.models import QuestionnaireResponse
from clinic.outcomes.services import course_window
from clinic.patients.medications import MedicationLoad, load_of
from clinic.patients.models import Medication, MedicationCategory
from clinic.scheduling.models import Site
from clinic.scheduling.progress import courses_started_between, delivered_sites
from clinic.scheduling.sites import list_sites

MOOD, PAIN, SLEEP = "PHQ-9", "PEG-3", "PROMIS-SD-8a"
SLEEP_MID = 5
"""PROMIS T-score points of a minimal important difference (half a standard deviation)."""
DEFAULT_QUARTERS = 8
ALL_PROTOCOLS = "all"
PAIN_RESPONSE_LEVELS = {"meaningful": 30, "substantial": 50}
PAIN_BANDS: tuple[tuple[str, float | None], ...] = (("<4", 4), ("4-6", 7), (">=7", None))
"""Baseline PEG-3 bands (label, below): mild, moderate, severe pain."""
"""PEG-3's improvement levels (peg3.json) by the fall in percent they stand for."""


@dataclass(frozen=True)
class CourseResult:
    """One course of the cohort, judged by the course page's rules."""

    course_id: int
    protocol: str
    protocol_name: str
    completed: bool
    quarter: str  # of the first delivered treatment
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
            return "not measured"
        return next(label for label, below in PAIN_BANDS if below is None or baseline < below)


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def default_range(today: date | None = None) -> tuple[date, date]:
    """The last DEFAULT_QUARTERS calendar quarters up to today."""
    day = today or clock.today()
    first_month = (day.month - 1) // 3 * 3 + 1
    start = date(day.year, first_month, 1)
    for _ in range(DEFAULT_QUARTERS - 1):
        start = (
            date(start.year - 1, 10, 1)
            if start.month == 1
            else start.replace(month=start.month - 3)
        )
    return start, day


Bounds = tuple[datetime, datetime, datetime]
"""A course's phases as instants (`Window.bounds`)."""


def _bounds_table(bounds: dict[int, Bounds]) -> Any:
    """The courses' bounds as a table `(course_id, first_at, baseline_before,
    course_before)` from one JSON parameter: one statement whatever the cohort's size,
    compiled once (a VALUES list of thousands of parameters took longer to compile than
    the report to compute). SQLite compares instants as the text it stores them in, and
    materialises the table so each course's JSON is parsed once."""
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


def course_results(
    start: date, end: date, site_ids: set[int] | None = None, *, by_site: bool = False
) -> list[CourseResult]:
    """The cohort first treated from `start` to `end` (clinic days, inclusive), of the
    courses treated at `site_ids` when given; with the sites each was treated at when
    `by_site` (else none)."""
    tz = clock.clinic_tz()
    since = datetime.combine(start, time(0), tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    progress = courses_started_between(since, until, site_ids=site_ids)
    if not progress:
        return []
    table = _bounds_table(
        {
            course_id: b
            for course_id, done in progress.items()
            if (b := course_window(done, tz).bounds)
        }
    )
    courses = db.session.execute(
        select(
            Course.id, Course.status, Course.patient_id, Protocol.code, Protocol.name,
            *_last_scores(table),
        )
        .select_from(table)
        .join(Course, Course.id == table.c.course_id)
        .join(Protocol, Protocol.id == Course.protocol_id)
        .order_by(Course.id)
    ).all()  # fmt: skip
    sites = delivered_sites(sorted(progress)) if by_site else {}
    medications: dict[int, list[Medication]] = defaultdict(list)
    for medication in db.session.scalars(
        select(Medication).where(
            Medication.patient_id.in_(
                select(Course.patient_id).join(table, table.c.course_id == Course.id)
            ),
            # the load counts these two only
            Medication.category.in_((MedicationCategory.OPIOID, MedicationCategory.BENZODIAZEPINE)),
        )
    ):
        medications[medication.patient_id].append(medication)
    judged: dict[tuple[str, float | None, float | None], dict[str, Any]] = {}

    def judge(instrument: Instrument, baseline: float | None, end: float | None) -> dict[str, Any]:
        """`course_result`, once per instrument and pair of scores (they repeat a lot; the
        courses share the answer, which nothing writes to)."""
        key = (instrument.code, baseline, end)
        if key not in judged:
            judged[key] = course_result(instrument, baseline, end)
        return judged[key]

    mood, pain, sleep = (get_instrument(code) for code in (MOOD, PAIN, SLEEP))
    nothing = load_of((), start)  # the load of every course whose patient takes neither
    results = []
    for course_id, status, patient_id, code, name, *scores in courses:
        done = progress[course_id]
        assert done.first_delivered_at is not None  # the cohort's courses were treated
        first = done.first_delivered_at.astimezone(tz).date()
        last = done.last_delivered_at.astimezone(tz).date() if done.last_delivered_at else first
        taken = medications.get(patient_id)
        results.append(
            CourseResult(
                course_id,
                code,
                name,
                status == CourseStatus.COMPLETED,
                quarter_of(first),
                frozenset(sites.get(course_id, ())),
                judge(mood, *scores[0:2]),
                judge(pain, *scores[2:4]),
                judge(sleep, *scores[4:6]),
                (load_of(taken, first), load_of(taken, last)) if taken else (nothing, nothing),
            )
        )
    return results


def _pct(count: int, total: int) -> float | None:
    if not total:
        return None
    share = Decimal(count) / Decimal(total) * 100
    return float(share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _mood(results: Sequence[CourseResult]) -> dict[str, Any]:
    responders = sum(1 for r in results if r.mood["response"] is True)
    remitters = sum(1 for r in results if r.mood["remission"] is True)
    return {
        "n": len(results),
        "judged": sum(1 for r in results if r.mood["response"] is not None),
        "responders": responders,
        "response": _pct(responders, len(results)),
        "remitters": remitters,
        "remission": _pct(remitters, len(results)),
    }


def _pain(results: Sequence[CourseResult]) -> dict[str, Any]:
    measured = [r for r in results if r.pain["baseline"]]
    at_30 = sum(1 for r in measured if r.pain["improvement"] in PAIN_RESPONSE_LEVELS)
    at_50 = sum(1 for r in measured if r.pain["improvement"] == "substantial")
    return {
        "n": len(measured),
        "responders_30": at_30,
        "response_30": _pct(at_30, len(measured)),
        "responders_50": at_50,
        "response_50": _pct(at_50, len(measured)),
    }


def _mean(values: Sequence[float]) -> float | None:
    """Mean to 1 decimal, half up, exact: the figures have one decimal, so their sum is
    taken in whole tenths."""
    if not values:
        return None
    tenths = sum(round(v * 10) for v in values)
    mean = Decimal(tenths) / (10 * len(values))
    return float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _medication_load(results: Sequence[CourseResult]) -> dict[str, Any]:
    """Opioid and benzodiazepine load at the start and end, over the courses that took any."""
    figures: dict[str, Any] = {}
    for key, attribute in (
        ("opioid", "mme_per_day"),
        ("benzodiazepine", "benzodiazepine_diazepam_mg_per_day"),
    ):
        pairs = [
            (getattr(start, attribute), getattr(stop, attribute))
            for start, stop in (r.load for r in results)
            if getattr(start, attribute) or getattr(stop, attribute)
        ]
        figures[key] = {
            "n": len(pairs),
            "mean_baseline": _mean([start for start, _stop in pairs]),
            "mean_end": _mean([stop for _start, stop in pairs]),
            "mean_change": _mean([stop - start for start, stop in pairs]),
        }
    return figures


def _sleep(results: Sequence[CourseResult]) -> dict[str, Any]:
    """PROMIS-SD-8a T-score from baseline to end, over the courses with both; improved:
    fell at least SLEEP_MID points (lower is better sleep). In whole tenths: exact."""
    pairs = [
        (round(r.sleep["baseline"] * 10), round(r.sleep["end"] * 10))
        for r in results
        if r.sleep["baseline"] is not None and r.sleep["end"] is not None
    ]
    improved = sum(1 for baseline, end in pairs if baseline - end >= SLEEP_MID * 10)
    return {
        "n": len(pairs),
        "mean_baseline": _mean([baseline / 10 for baseline, _end in pairs]),
        "mean_end": _mean([end / 10 for _baseline, end in pairs]),
        "mean_change": _mean([(end - baseline) / 10 for baseline, end in pairs]),
        "improved": improved,
        "improved_pct": _pct(improved, len(pairs)),
    }


def _cohorts(results: Sequence[CourseResult]) -> dict[str, Any]:
    return {
        "intent_to_treat": _mood(results),
        "completers": _mood([r for r in results if r.completed]),
        "pain": _pain(results),
        "sleep": _sleep(results),
        "medication_load": _medication_load(results),
    }


def summarize_group(protocol: str, name: str, results: Sequence[CourseResult]) -> dict[str, Any]:
    return {"protocol": protocol, "protocol_name": name, **_cohorts(results)}


def _covered(site_ids: set[int] | None) -> list[Site]:
    return [site for site in list_sites() if site_ids is None or site.id in site_ids]


def _by_site(results: Sequence[CourseResult], covered: Sequence[Site]) -> list[dict[str, Any]]:
    """Each site's cohorts, when the report covers several sites."""
    if len(covered) < 2:
        return []
    treated_at: dict[int, list[CourseResult]] = defaultdict(list)
    for result in results:  # once through the cohort, not once a site (20 sites: 20x)
        for site_id in result.sites:
            treated_at[site_id].append(result)
    return [
        {"label": site.name, "site_id": site.id, **_cohorts(treated_at[site.id])}
        for site in covered
        if treated_at.get(site.id)
    ]


def _strata(
    results: Sequence[CourseResult], covered: Sequence[Site]
) -> dict[str, list[dict[str, Any]]]:
    """The cohorts by quarter of the first treatment, by baseline pain and by site."""
    by_quarter: dict[str, list[CourseResult]] = defaultdict(list)
    by_band: dict[str, list[CourseResult]] = defaultdict(list)
    for result in results:
        by_quarter[result.quarter].append(result)
        by_band[result.pain_band].append(result)
    bands = [label for label, _below in PAIN_BANDS] + ["not measured"]
    return {
        "site": _by_site(results, covered),
        "quarter": [
            {"label": quarter, **_cohorts(by_quarter[quarter])} for quarter in sorted(by_quarter)
        ],
        "baseline_pain": [
            {"label": band, **_cohorts(by_band[band])} for band in bands if band in by_band
        ],
    }


def outcome_report(start: date, end: date, site_ids: set[int] | None = None) -> dict[str, Any]:
    """`/reports/outcomes`: one item per protocol in the cohort, and the clinic's total;
    of the courses treated at `site_ids` when given (`sites.visible_sites`)."""
    covered = _covered(site_ids)
    results = course_results(start, end, site_ids, by_site=len(covered) > 1)
    by_protocol: dict[tuple[str, str], list[CourseResult]] = defaultdict(list)
    for result in results:
        by_protocol[(result.protocol, result.protocol_name)].append(result)
    return {
        "from": start,
        "to": end,
        "items": [
            summarize_group(code, name, group)
            for (code, name), group in sorted(by_protocol.items())
        ],
        "site_ids": sorted(site_ids) if site_ids is not None else None,
        "total": summarize_group(ALL_PROTOCOLS, "All protocols", results),
        "strata": _strata(results, covered),
    }

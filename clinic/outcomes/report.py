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
whose end score fell at least 30% and 50% (IMMPACT).

Three bounded queries whatever the number of courses (the cohort with its protocol, its
progress, its PHQ-9 and PEG-3 answers); the SQL picks the cohort, the one per-course rule
(`analysis.summarize`, shared with the course page) decides each course's result.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from clinic import clock
from clinic.courses.models import Course, CourseStatus, Protocol
from clinic.extensions import db
from clinic.outcomes.analysis import summarize
from clinic.outcomes.catalog import get_instrument
from clinic.outcomes.models import QuestionnaireResponse
from clinic.outcomes.services import course_window
from clinic.patients.medications import MedicationLoad, load_of
from clinic.patients.models import Medication
from clinic.scheduling.progress import course_progress, courses_started_between

MOOD, PAIN = "PHQ-9", "PEG-3"
DEFAULT_QUARTERS = 8
ALL_PROTOCOLS = "all"
PAIN_RESPONSE_LEVELS = {"meaningful": 30, "substantial": 50}
PAIN_BANDS: tuple[tuple[str, float | None], ...] = (("<4", 4), ("4-6", 7), (">=7", None))
"""Baseline PEG-3 bands (label, below): mild, moderate, severe pain."""
"""PEG-3's improvement levels (peg3.json) by the fall in percent they stand for."""
CSV_COLUMNS = ("group", "label", "cohort", "measure", "n", "count", "pct", "definition")


@dataclass(frozen=True)
class CourseResult:
    """One course of the cohort, judged by the course page's rules."""

    course_id: int
    protocol: str
    protocol_name: str
    completed: bool
    quarter: str  # of the first delivered treatment
    mood: dict[str, Any]  # analysis.summarize() of PHQ-9
    pain: dict[str, Any]  # ... and of PEG-3
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


def course_results(start: date, end: date) -> list[CourseResult]:
    """The cohort first treated from `start` to `end` (clinic days, inclusive)."""
    tz = clock.clinic_tz()
    since = datetime.combine(start, time(0), tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    cohort = courses_started_between(since, until).scalar_subquery()
    courses = db.session.execute(
        select(Course.id, Course.status, Course.patient_id, Protocol.code, Protocol.name)
        .join(Protocol, Protocol.id == Course.protocol_id)
        .where(Course.id.in_(cohort))
        .order_by(Course.id)
    ).all()
    progress = course_progress(row.id for row in courses)
    medications: dict[int, list[Medication]] = defaultdict(list)
    for medication in db.session.scalars(
        select(Medication).where(
            Medication.patient_id.in_(select(Course.patient_id).where(Course.id.in_(cohort)))
        )
    ):
        medications[medication.patient_id].append(medication)
    points: dict[tuple[int | None, str], list[tuple[datetime, float]]] = defaultdict(list)
    for course_id, code, administered_at, score in db.session.execute(
        select(
            QuestionnaireResponse.course_id,
            QuestionnaireResponse.instrument,
            QuestionnaireResponse.administered_at,
            QuestionnaireResponse.score,
        ).where(
            QuestionnaireResponse.course_id.in_(cohort),
            QuestionnaireResponse.instrument.in_((MOOD, PAIN)),
        )
    ):
        points[(course_id, code)].append((administered_at, score))
    results = []
    for course_id, status, patient_id, code, name in courses:
        done = progress[course_id]
        if done.first_delivered_at is None:  # delivered once, then struck: not treated
            continue
        window = course_window(done)
        first = clock.to_local(done.first_delivered_at).date()
        last = done.last_delivered_day() or first
        taken = medications[patient_id]
        results.append(
            CourseResult(
                course_id,
                code,
                name,
                status == CourseStatus.COMPLETED,
                quarter_of(first),
                summarize(get_instrument(MOOD), points[(course_id, MOOD)], window, tz=tz),
                summarize(get_instrument(PAIN), points[(course_id, PAIN)], window, tz=tz),
                (load_of(taken, first), load_of(taken, last)),
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
    if not values:
        return None
    total = sum((Decimal(str(v)) for v in values), Decimal(0)) / len(values)
    return float(total.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


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


def _cohorts(results: Sequence[CourseResult]) -> dict[str, Any]:
    return {
        "intent_to_treat": _mood(results),
        "completers": _mood([r for r in results if r.completed]),
        "pain": _pain(results),
    }


def summarize_group(protocol: str, name: str, results: Sequence[CourseResult]) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "protocol_name": name,
        **_cohorts(results),
        "medication_load": _medication_load(results),
    }


def _strata(results: Sequence[CourseResult]) -> dict[str, list[dict[str, Any]]]:
    """The cohorts by quarter of the first treatment and by baseline pain."""
    bands = [label for label, _below in PAIN_BANDS] + ["not measured"]
    return {
        "quarter": [
            {"label": quarter, **_cohorts([r for r in results if r.quarter == quarter])}
            for quarter in sorted({r.quarter for r in results})
        ],
        "baseline_pain": [
            {"label": band, **_cohorts([r for r in results if r.pain_band == band])}
            for band in bands
            if any(r.pain_band == band for r in results)
        ],
    }


def outcome_report(start: date, end: date) -> dict[str, Any]:
    """`/reports/outcomes`: one item per protocol in the cohort, and the clinic's total."""
    results = course_results(start, end)
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
        "total": summarize_group(ALL_PROTOCOLS, "All protocols", results),
        "strata": _strata(results),
    }


COHORTS = {
    "intent_to_treat": "every course first treated in the period (discontinued included)",
    "completers": "the courses of the period completed",
    "pain": "the courses of the period with a PEG-3 baseline above 0",
}
MEASURES = (  # (cohort, measure, count key, percent key, definition)
    ("intent_to_treat", "response", "responders", "response", "PHQ-9 end >= 50% below baseline"),
    ("intent_to_treat", "remission", "remitters", "remission", "PHQ-9 end score below 5"),
    ("completers", "response", "responders", "response", "PHQ-9 end >= 50% below baseline"),
    ("completers", "remission", "remitters", "remission", "PHQ-9 end score below 5"),
    ("pain", "response_30", "responders_30", "response_30", "PEG-3 end >= 30% below baseline"),
    ("pain", "response_50", "responders_50", "response_50", "PEG-3 end >= 50% below baseline"),
)
END_RULE = (
    "; baseline: last answer on or before the first treatment's day, before it was logged; "
    "end: last answer up to 7 days after the last treatment; follow-ups excluded; "
    "a course without both counts as not responding; pct of n"
)


def report_csv(report: dict[str, Any]) -> str:
    """One line per group (protocol, total, quarter, baseline pain), cohort and measure,
    each with its definition beside it, for a registry."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    groups = [("protocol", item["protocol"], item) for item in report["items"]]
    groups.append(("protocol", ALL_PROTOCOLS, report["total"]))
    for key in ("quarter", "baseline_pain"):
        groups += [(key, stratum["label"], stratum) for stratum in report["strata"][key]]
    for group, label, figures in groups:
        for cohort, measure, count, pct, definition in MEASURES:
            values = figures[cohort]
            writer.writerow(
                [
                    group,
                    label,
                    cohort,
                    measure,
                    values["n"],
                    values[count],
                    "" if values[pct] is None else values[pct],
                    f"{COHORTS[cohort]}: {definition}{END_RULE}",
                ]
            )
    return buffer.getvalue()

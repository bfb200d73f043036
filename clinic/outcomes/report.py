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

Each course is judged once (`judging`) and kept (`results`); the report brings the stale
ones up to date, then counts in SQL: one grouped query by protocol, quarter, baseline
pain band and completion, one by site. Their sums add up to every stratum in Python,
whatever the number of courses: the rows grouped are at most protocols x quarters x 4
bands x 2.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select

from clinic import clock
from clinic.courses.models import Course, CourseStatus, Protocol
from clinic.extensions import db
from clinic.outcomes.judging import PAIN_BANDS, UNMEASURED
from clinic.outcomes.models import CourseOutcome, CourseOutcomeSite
from clinic.outcomes.results import refresh
from clinic.scheduling.models import Site
from clinic.scheduling.sites import list_sites

SLEEP_MID = 5
"""PROMIS T-score points of a minimal important difference (half a standard deviation)."""
DEFAULT_QUARTERS = 8
ALL_PROTOCOLS = "all"
PAIN_RESPONSE_LEVELS = ("meaningful", "substantial")
"""PEG-3's improvement levels (peg3.json) of a fall of 30% and 50%."""


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


@dataclass
class Tally:
    """What the cohorts' figures are made of, summed over a group of courses: counts, and
    averaged figures as sums of whole tenths (so the means are exact)."""

    n: int = 0
    judged: int = 0  # PHQ-9 response could be judged
    responders: int = 0
    remitters: int = 0
    pain_n: int = 0  # PEG-3 baseline above 0
    pain_30: int = 0
    pain_50: int = 0
    sleep_n: int = 0  # PROMIS-SD-8a baseline and end
    sleep_baseline: int = 0
    sleep_end: int = 0
    sleep_improved: int = 0
    opioid_n: int = 0  # any opioid load at the start or the end
    opioid_start: int = 0
    opioid_end: int = 0
    benzodiazepine_n: int = 0
    benzodiazepine_start: int = 0
    benzodiazepine_end: int = 0

    def add(self, other: Tally) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def _count(condition: ColumnElement[bool]) -> Any:
    return func.count().filter(condition)


def _sum(column: Any, condition: ColumnElement[bool] | None = None) -> Any:
    total = func.sum(column) if condition is None else func.sum(column).filter(condition)
    return func.coalesce(total, 0)


def _tally_columns() -> list[Any]:
    """`Tally`'s fields as SQL aggregates over `CourseOutcome` rows, in its order."""
    o = CourseOutcome
    measured = o.pain_baseline != 0  # NULL (no baseline) is not measured either
    slept = o.sleep_baseline_tenths.is_not(None) & o.sleep_end_tenths.is_not(None)
    opioid = (o.opioid_start_tenths != 0) | (o.opioid_end_tenths != 0)
    benzodiazepine = (o.benzodiazepine_start_tenths != 0) | (o.benzodiazepine_end_tenths != 0)
    return [
        func.count(),
        _count(o.mood_response.is_not(None)),
        _count(o.mood_response.is_(True)),
        _count(o.mood_remission.is_(True)),
        _count(measured),
        _count(measured & o.pain_improvement.in_(PAIN_RESPONSE_LEVELS)),
        _count(measured & (o.pain_improvement == PAIN_RESPONSE_LEVELS[-1])),
        _count(slept),
        _sum(o.sleep_baseline_tenths, slept),
        _sum(o.sleep_end_tenths, slept),
        _count(slept & (o.sleep_baseline_tenths - o.sleep_end_tenths >= SLEEP_MID * 10)),
        _count(opioid),
        _sum(o.opioid_start_tenths),
        _sum(o.opioid_end_tenths),
        _count(benzodiazepine),
        _sum(o.benzodiazepine_start_tenths),
        _sum(o.benzodiazepine_end_tenths),
    ]


def _pct(count: int, total: int) -> float | None:
    if not total:
        return None
    share = Decimal(count) / Decimal(total) * 100
    return float(share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _mean(tenths: int, n: int) -> float | None:
    """Mean to 1 decimal, half up, exact: of `n` figures that add up to `tenths`."""
    if not n:
        return None
    mean = Decimal(tenths) / (10 * n)
    return float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _mood(tally: Tally) -> dict[str, Any]:
    return {
        "n": tally.n,
        "judged": tally.judged,
        "responders": tally.responders,
        "response": _pct(tally.responders, tally.n),
        "remitters": tally.remitters,
        "remission": _pct(tally.remitters, tally.n),
    }


def _pain(tally: Tally) -> dict[str, Any]:
    return {
        "n": tally.pain_n,
        "responders_30": tally.pain_30,
        "response_30": _pct(tally.pain_30, tally.pain_n),
        "responders_50": tally.pain_50,
        "response_50": _pct(tally.pain_50, tally.pain_n),
    }


def _change(n: int, start: int, end: int) -> dict[str, Any]:
    return {
        "n": n,
        "mean_baseline": _mean(start, n),
        "mean_end": _mean(end, n),
        "mean_change": _mean(end - start, n),
    }


def _sleep(tally: Tally) -> dict[str, Any]:
    """PROMIS-SD-8a T-score from baseline to end, over the courses with both; improved:
    fell at least SLEEP_MID points (lower is better sleep)."""
    return {
        **_change(tally.sleep_n, tally.sleep_baseline, tally.sleep_end),
        "improved": tally.sleep_improved,
        "improved_pct": _pct(tally.sleep_improved, tally.sleep_n),
    }


def _medication_load(tally: Tally) -> dict[str, Any]:
    """Opioid and benzodiazepine load at the start and end, over the courses that took any."""
    return {
        "opioid": _change(tally.opioid_n, tally.opioid_start, tally.opioid_end),
        "benzodiazepine": _change(
            tally.benzodiazepine_n, tally.benzodiazepine_start, tally.benzodiazepine_end
        ),
    }


@dataclass
class Group:
    """A stratum's sums: every course of it, and its completers."""

    every: Tally
    completers: Tally

    @classmethod
    def of(cls, cells: Iterable[tuple[bool, Tally]]) -> Group:
        group = cls(Tally(), Tally())
        for completed, tally in cells:
            group.every.add(tally)
            if completed:
                group.completers.add(tally)
        return group

    def cohorts(self) -> dict[str, Any]:
        return {
            "intent_to_treat": _mood(self.every),
            "completers": _mood(self.completers),
            "pain": _pain(self.every),
            "sleep": _sleep(self.every),
            "medication_load": _medication_load(self.every),
        }


@dataclass(frozen=True)
class Cell:
    """The courses of one protocol, quarter, baseline pain band and completion."""

    protocol: str
    protocol_name: str
    quarter: str
    pain_band: str
    completed: bool
    tally: Tally


def _cohort(start: date, end: date, site_ids: set[int] | None) -> list[Any]:
    """The filter of the courses first treated from `start` to `end` (clinic days,
    inclusive), treated at `site_ids` when given."""
    tz = clock.clinic_tz()
    since = datetime.combine(start, time(0), tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    where = [CourseOutcome.first_delivered_at >= since, CourseOutcome.first_delivered_at < until]
    if site_ids is not None:
        there = select(CourseOutcomeSite.course_id).where(
            CourseOutcomeSite.site_id.in_(sorted(site_ids))
        )
        where.append(CourseOutcome.course_id.in_(there))
    return where


_COMPLETED = (Course.status == CourseStatus.COMPLETED).label("completed")


def _cells(cohort: list[Any]) -> list[Cell]:
    keys = (Protocol.code, Protocol.name, CourseOutcome.quarter, CourseOutcome.pain_band)
    rows = db.session.execute(
        select(*keys, _COMPLETED, *_tally_columns())
        .join(Course, Course.id == CourseOutcome.course_id)
        .join(Protocol, Protocol.id == Course.protocol_id)
        .where(*cohort)
        .group_by(*keys, _COMPLETED)
    )
    return [
        Cell(code, name, quarter, band or UNMEASURED, bool(completed), Tally(*sums))
        for code, name, quarter, band, completed, *sums in rows
    ]


def _by_site(cohort: list[Any], covered: list[Site]) -> list[dict[str, Any]]:
    """Each site's cohorts, when the report covers several sites."""
    if len(covered) < 2:
        return []
    rows = db.session.execute(
        select(CourseOutcomeSite.site_id, _COMPLETED, *_tally_columns())
        .join(CourseOutcome, CourseOutcome.course_id == CourseOutcomeSite.course_id)
        .join(Course, Course.id == CourseOutcome.course_id)
        .where(*cohort, CourseOutcomeSite.site_id.in_([site.id for site in covered]))
        .group_by(CourseOutcomeSite.site_id, _COMPLETED)
    )
    by_site: dict[int, list[tuple[bool, Tally]]] = defaultdict(list)
    for site_id, completed, *sums in rows:
        by_site[site_id].append((bool(completed), Tally(*sums)))
    return [
        {"label": site.name, "site_id": site.id, **Group.of(by_site[site.id]).cohorts()}
        for site in covered
        if site.id in by_site
    ]


def _grouped(cells: list[Cell], key: Any) -> dict[Any, Group]:
    members: dict[Any, list[tuple[bool, Tally]]] = defaultdict(list)
    for cell in cells:
        members[key(cell)].append((cell.completed, cell.tally))
    return {label: Group.of(group) for label, group in members.items()}


def outcome_report(start: date, end: date, site_ids: set[int] | None = None) -> dict[str, Any]:
    """`/reports/outcomes`: one item per protocol in the cohort, and the clinic's total;
    of the courses treated at `site_ids` when given (`sites.visible_sites`)."""
    refresh()
    covered = [site for site in list_sites() if site_ids is None or site.id in site_ids]
    cohort = _cohort(start, end, site_ids)
    cells = _cells(cohort)
    protocols = _grouped(cells, lambda cell: (cell.protocol, cell.protocol_name))
    quarters = _grouped(cells, lambda cell: cell.quarter)
    bands = _grouped(cells, lambda cell: cell.pain_band)
    return {
        "from": start,
        "to": end,
        "items": [
            {"protocol": code, "protocol_name": name, **group.cohorts()}
            for (code, name), group in sorted(protocols.items())
        ],
        "site_ids": sorted(site_ids) if site_ids is not None else None,
        "total": {
            "protocol": ALL_PROTOCOLS,
            "protocol_name": "All protocols",
            **Group.of((cell.completed, cell.tally) for cell in cells).cohorts(),
        },
        "strata": {
            "site": _by_site(cohort, covered),
            "quarter": [
                {"label": quarter, **quarters[quarter].cohorts()} for quarter in sorted(quarters)
            ],
            "baseline_pain": [
                {"label": band, **bands[band].cohorts()}
                for band in [label for label, _below in PAIN_BANDS] + [UNMEASURED]
                if band in bands
            ],
        },
    }

"""Course outcome summaries: baseline, end of course, change, response, remission and
the follow-ups after the course.

Pure functions over (administered instant, score) points so the rules in CONTRACT.md 8
and DOMAIN.md ("Outcome measures") are tested without a database; the service layer only
fetches the points and the course's progress.

Each point falls in one phase of the course (`Window.phase`):
- baseline: administered on or before the day of the first delivered treatment and
  before that treatment was logged. A PHQ-9 taken at check-in after the scheduled start,
  or a paper form entered days later, still counts. With no treatment yet every point is
  a baseline candidate, so the baseline does not jump when treatment starts.
- course: after that, up to 7 days after the last delivered treatment (whenever the
  course's status was changed). The last of them is the end-of-course score (`latest`).
- follow-up: later (the 1-, 3- and 6-month questionnaires). Reported apart in
  `follow_ups`; they never change the end-of-course result.

- change_pct: (end - baseline) / baseline x 100, 1 decimal; None without a baseline or
  when the baseline is 0 (no percentage of nothing).
- response, remission, improvement: judged only once there is an end-of-course score
  (before that the course has no outcome yet), else None. Response needs a non-zero
  baseline; remission needs only the end score. None also where the instrument has no
  such rule (PEG-3 has no remission).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

from clinic.outcomes.catalog import Instrument

_TENTH = Decimal("0.1")
END_GRACE = timedelta(days=7)
"""An answer up to 7 days after the last delivered treatment is still the course's end."""
FOLLOW_UP_MONTHS = (1, 3, 6)
_DAYS_PER_MONTH = 30.44

BASELINE, COURSE, FOLLOW_UP = "baseline", "course", "follow_up"


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 = 28 Feb):
    a follow-up's day after the course's last delivered treatment."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Window:
    """A course's delivered treatments as the outcome rules see them (from its progress)."""

    first_at: datetime | None = None
    """The first delivered treatment's start; None while nothing was delivered."""
    last_at: datetime | None = None
    logged_at: datetime | None = None
    """When the first delivered treatment was logged (None: at its start)."""
    tz: tzinfo = UTC
    """The clinic's zone: "the day of" a treatment is a clinic day."""

    def _day(self, at: datetime) -> date:
        return at.astimezone(self.tz).date() if at.tzinfo is not None else at.date()

    def _midnight_after(self, day: date) -> datetime:
        """The first instant of the clinic day after `day` (naive when the window is)."""
        zone = self.tz if self.first_at is not None and self.first_at.tzinfo else None
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)

    @cached_property
    def bounds(self) -> tuple[datetime, datetime, datetime] | None:
        """The phases as instants, so SQL can tell them too (SQLite has no time zones):
        `(first_at, baseline_before, course_before)`, baseline when `at <= first_at` or
        `at < baseline_before`, else course when `at < course_before`, else follow-up.
        None while nothing was delivered (every answer is a baseline candidate)."""
        if self.first_at is None:
            return None
        first_day_over = self._midnight_after(self._day(self.first_at))
        # before the first treatment was logged, on its clinic day (unlogged: not after it)
        logged = min(self.logged_at, first_day_over) if self.logged_at else self.first_at
        last = self._day(self.last_at or self.first_at)
        return self.first_at, logged, self._midnight_after(last + END_GRACE)

    def phase(self, at: datetime) -> str:
        if self.bounds is None:
            return BASELINE
        first_at, baseline_before, course_before = self.bounds
        if at <= first_at or at < baseline_before:
            return BASELINE
        if at < course_before:
            return COURSE
        return FOLLOW_UP

    def months_after(self, at: datetime) -> int:
        """The follow-up (1, 3 or 6 months) an answer after the course is nearest to."""
        last = self.last_at or self.first_at or at
        months = (self._day(at) - self._day(last)).days / _DAYS_PER_MONTH
        return min(FOLLOW_UP_MONTHS, key=lambda target: abs(target - months))


def summarize(
    instrument: Instrument,
    points: Sequence[tuple[datetime, float]],
    window: Window,
    *,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """One instrument's outcome for one course, in the shape of `/courses/{id}/outcomes`.

    `tz` (the clinic's zone) decides which calendar day an aware instant falls on in
    `series[].date`; `series[].at` keeps the exact instant, in UTC when aware.
    """
    ordered = sorted(points, key=lambda point: point[0])
    phases: dict[str, list[tuple[datetime, float]]] = {BASELINE: [], COURSE: [], FOLLOW_UP: []}
    for point in ordered:
        phases[window.phase(point[0])].append(point)
    baseline = phases[BASELINE][-1] if phases[BASELINE] else None
    end = phases[COURSE][-1] if phases[COURSE] else None
    latest = end or baseline

    base_score = instrument.round_score(baseline[1]) if baseline else None
    latest_score = instrument.round_score(latest[1]) if latest else None
    judged = _judge(instrument, base_score, latest_score if end else None)
    return {
        "baseline": base_score,
        "baseline_at": _instant(baseline[0]) if baseline else None,
        "latest": latest_score,
        "latest_at": _instant(latest[0]) if latest else None,
        **judged,
        "change_pct": _pct(_change(base_score, latest_score)),
        "series": [
            {"date": _day(at, tz), "at": _instant(at), "score": instrument.round_score(score)}
            for at, score in phases[BASELINE] + phases[COURSE]
        ],
        "follow_ups": [
            {
                "months": window.months_after(at),
                "date": _day(at, tz),
                "at": _instant(at),
                "score": instrument.round_score(score),
                "change_pct": _pct(_change(base_score, instrument.round_score(score))),
            }
            for at, score in phases[FOLLOW_UP]
        ],
    }


def course_result(
    instrument: Instrument, baseline: float | None, end: float | None
) -> dict[str, Any]:
    """The course's result by `summarize`'s rules from its baseline and end-of-course
    scores (the last answer of each phase, None without one): `baseline`, `end`, change,
    response, remission and improvement. The clinic report picks the two scores in SQL
    (`judging.judge_courses`) and judges every course of its cohort with this."""
    base = instrument.round_score(baseline) if baseline is not None else None
    last = instrument.round_score(end) if end is not None else None
    return {"baseline": base, "end": last, **_judge(instrument, base, last)}


def _judge(instrument: Instrument, baseline: float | None, end: float | None) -> dict[str, Any]:
    """Change, response, remission and improvement of an end score against the baseline."""
    change = _change(baseline, end)
    rules = instrument.outcome_rules
    response = None
    improvement = None
    if change is not None:
        # Improvement in percent of baseline, positive when the patient got better.
        fall = -change if instrument.lower_is_better else change
        if rules.response_fall_pct is not None:
            response = fall >= Decimal(str(rules.response_fall_pct))
        reached = [
            lv.code for lv in rules.improvement_levels if fall >= Decimal(str(lv.min_fall_pct))
        ]
        improvement = reached[-1] if reached else None
    remission = None
    if end is not None and rules.remission_below is not None:
        remission = end < rules.remission_below
    return {
        "change_pct": _pct(change),
        "response": response,
        "remission": remission,
        "improvement": improvement,
    }


def aggregate(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Clinic-level rates over course summaries of one instrument.

    Only courses whose response could be judged count (`n`); `n_total` counts all, so a
    report can say how many courses had no usable baseline or follow-up. Rates are
    percentages with 1 decimal, None when nothing could be judged.
    """
    every = list(summaries)
    judged = [s for s in every if s["response"] is not None]
    with_remission = [s for s in judged if s["remission"] is not None]
    responders = sum(1 for s in judged if s["response"])
    remitters = sum(1 for s in with_remission if s["remission"])
    changes = [Decimal(str(s["change_pct"])) for s in judged if s["change_pct"] is not None]
    mean_change = sum(changes, Decimal(0)) / len(changes) if changes else None
    return {
        "n": len(judged),
        "n_total": len(every),
        "responders": responders,
        "response_rate": _rate(responders, len(judged)),
        "remitters": remitters,
        "remission_rate": _rate(remitters, len(with_remission)),
        "mean_change_pct": _one_decimal(mean_change) if mean_change is not None else None,
    }


def _change(baseline: float | None, latest: float | None) -> Decimal | None:
    """Signed change in percent of baseline, unrounded: thresholds compare exactly."""
    if baseline is None or latest is None or baseline == 0:
        return None
    base, last = Decimal(str(baseline)), Decimal(str(latest))
    return (last - base) / base * 100


def _pct(change: Decimal | None) -> float | None:
    return _one_decimal(change) if change is not None else None


def _rate(count: int, total: int) -> float | None:
    return _one_decimal(Decimal(count) / total * 100) if total else None


def _one_decimal(value: Decimal) -> float:
    return float(value.quantize(_TENTH, rounding=ROUND_HALF_UP))


def _instant(at: datetime) -> str:
    return (at.astimezone(UTC) if at.tzinfo else at).isoformat()


def _day(at: datetime, tz: tzinfo | None) -> str:
    local = at.astimezone(tz) if tz is not None and at.tzinfo is not None else at
    return local.date().isoformat()

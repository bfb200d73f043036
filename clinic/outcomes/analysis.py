"""Course outcome summaries: baseline, latest, change, response and remission.

Pure functions over (instant, score) points so the rules in DOMAIN.md ("Outcome
measures") are tested without a database; the service layer only fetches the points.

Rules, per instrument:
- baseline: the newest response at or before the course's first treatment. With no
  treatment yet every response is "before the first treatment", so the baseline is the
  newest one; it does not jump when treatment starts.
- latest: the newest response. It equals the baseline until a response arrives after the
  first treatment, so latest is never older than the baseline.
- change_pct: (latest - baseline) / baseline x 100, 1 decimal; None without a baseline or
  when the baseline is 0 (no percentage of nothing).
- response, remission, improvement: judged only once there is a response after the first
  treatment (before that the course has no outcome yet), else None. Response needs a
  non-zero baseline; remission needs only the latest. None also where the instrument has
  no such rule (PEG-3 has no remission).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from clinic.outcomes.catalog import Instrument

_TENTH = Decimal("0.1")


def summarize(
    instrument: Instrument,
    points: Sequence[tuple[datetime, float]],
    first_treatment_at: datetime | None,
    *,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """One instrument's outcome for one course, in the shape of `/courses/{id}/outcomes`.

    `tz` (the clinic's zone) decides which calendar day an aware instant falls on in
    `series[].date`; `series[].at` keeps the exact instant, in UTC when aware.
    """
    ordered = sorted(points, key=lambda point: point[0])
    before = [p for p in ordered if first_treatment_at is None or p[0] <= first_treatment_at]
    baseline = before[-1] if before else None
    latest = ordered[-1] if ordered else None
    followed_up = bool(
        latest is not None and first_treatment_at is not None and latest[0] > first_treatment_at
    )

    base_score = instrument.round_score(baseline[1]) if baseline else None
    latest_score = instrument.round_score(latest[1]) if latest else None
    change = _change(base_score, latest_score)
    rules = instrument.outcome_rules

    response = None
    improvement = None
    if followed_up and change is not None:
        # Improvement in percent of baseline, positive when the patient got better.
        fall = -change if instrument.lower_is_better else change
        if rules.response_fall_pct is not None:
            response = fall >= Decimal(str(rules.response_fall_pct))
        reached = [
            lv.code for lv in rules.improvement_levels if fall >= Decimal(str(lv.min_fall_pct))
        ]
        improvement = reached[-1] if reached else None
    remission = None
    if followed_up and latest_score is not None and rules.remission_below is not None:
        remission = latest_score < rules.remission_below

    return {
        "baseline": base_score,
        "baseline_at": _instant(baseline[0]) if baseline else None,
        "latest": latest_score,
        "latest_at": _instant(latest[0]) if latest else None,
        "change_pct": _one_decimal(change) if change is not None else None,
        "response": response,
        "remission": remission,
        "improvement": improvement,
        "series": [
            {"date": _day(at, tz), "at": _instant(at), "score": instrument.round_score(score)}
            for at, score in ordered
        ],
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


def _rate(count: int, total: int) -> float | None:
    return _one_decimal(Decimal(count) / total * 100) if total else None


def _one_decimal(value: Decimal) -> float:
    return float(value.quantize(_TENTH, rounding=ROUND_HALF_UP))


def _instant(at: datetime) -> str:
    return (at.astimezone(UTC) if at.tzinfo else at).isoformat()


def _day(at: datetime, tz: tzinfo | None) -> str:
    local = at.astimezone(tz) if tz is not None and at.tzinfo is not None else at
    return local.date().isoformat()

"""Course outcome summaries and the clinic aggregate (DOMAIN.md, "Outcome measures")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.outcomes.analysis import aggregate, summarize
from clinic.outcomes.catalog import get_instrument

PHQ9 = get_instrument("PHQ-9")
PEG3 = get_instrument("PEG-3")
START = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)  # first treatment


def day(offset: int) -> datetime:
    return START + timedelta(days=offset)


def test_baseline_is_the_last_response_before_the_first_treatment() -> None:
    points = [(day(-20), 22), (day(-1), 20), (day(10), 14), (day(30), 9)]
    summary = summarize(PHQ9, points, START)
    assert (summary["baseline"], summary["latest"]) == (20, 9)
    assert summary["change_pct"] == -55.0
    assert summary["response"] is True
    assert summary["remission"] is False
    assert summary["baseline_at"] == day(-1).isoformat()


def test_a_response_at_the_moment_of_the_first_treatment_is_the_baseline() -> None:
    summary = summarize(PHQ9, [(day(-3), 21), (START, 18), (day(7), 15)], START)
    assert summary["baseline"] == 18


def test_input_order_does_not_matter() -> None:
    points = [(day(30), 4), (day(-2), 16), (day(10), 12)]
    summary = summarize(PHQ9, points, START)
    assert (summary["baseline"], summary["latest"]) == (16, 4)
    assert [p["score"] for p in summary["series"]] == [16, 12, 4]


@pytest.mark.parametrize(
    ("baseline", "latest", "response", "remission"),
    [
        (20, 10, True, False),  # exactly 50% below
        (21, 11, False, False),  # 47.6%
        (8, 4, True, True),
        (6, 5, False, False),  # 5 is not below 5
        (10, 12, False, False),  # worse
    ],
)
def test_phq9_response_and_remission(
    baseline: int, latest: int, response: bool, remission: bool
) -> None:
    summary = summarize(PHQ9, [(day(-1), baseline), (day(40), latest)], START)
    assert (summary["response"], summary["remission"]) == (response, remission)


def test_change_pct_rounds_to_one_decimal() -> None:
    summary = summarize(PHQ9, [(day(-1), 21), (day(40), 11)], START)
    assert summary["change_pct"] == -47.6


def test_no_responses() -> None:
    assert summarize(PHQ9, [], START) == {
        "baseline": None,
        "baseline_at": None,
        "latest": None,
        "latest_at": None,
        "change_pct": None,
        "response": None,
        "remission": None,
        "improvement": None,
        "series": [],
    }


def test_before_treatment_the_newest_response_is_baseline_and_latest() -> None:
    summary = summarize(PHQ9, [(day(-20), 22), (day(-2), 19)], None)
    assert (summary["baseline"], summary["latest"], summary["change_pct"]) == (19, 19, 0.0)
    assert (summary["response"], summary["remission"]) == (None, None)


def test_treated_but_not_yet_measured_again_has_no_outcome() -> None:
    summary = summarize(PHQ9, [(day(-2), 19)], START)
    assert (summary["baseline"], summary["latest"]) == (19, 19)
    assert (summary["response"], summary["remission"]) == (None, None)


def test_without_a_baseline_only_remission_is_judged() -> None:
    summary = summarize(PHQ9, [(day(5), 12), (day(30), 3)], START)
    assert (summary["baseline"], summary["latest"], summary["change_pct"]) == (None, 3, None)
    assert (summary["response"], summary["remission"]) == (None, True)


def test_zero_baseline_has_no_percentage() -> None:
    summary = summarize(PHQ9, [(day(-1), 0), (day(30), 2)], START)
    assert (summary["change_pct"], summary["response"], summary["remission"]) == (None, None, True)


@pytest.mark.parametrize(
    ("baseline", "latest", "improvement", "response"),
    [
        (6.0, 4.2, "meaningful", True),  # exactly 30%: float arithmetic would say 29.99...
        (7.0, 3.5, "substantial", True),
        (6.0, 4.3, None, False),
        (5.0, 6.0, None, False),
    ],
)
def test_peg3_improvement_levels(
    baseline: float, latest: float, improvement: str | None, response: bool
) -> None:
    summary = summarize(PEG3, [(day(-1), baseline), (day(30), latest)], START)
    assert (summary["improvement"], summary["response"]) == (improvement, response)
    assert summary["remission"] is None  # PEG-3 has no remission rule


def test_scores_come_back_as_the_instrument_scores_them() -> None:
    summary = summarize(PHQ9, [(day(-1), 14.0), (day(30), 7.0)], START)
    assert type(summary["baseline"]) is int
    peg = summarize(PEG3, [(day(-1), 6.666666), (day(30), 3.33)], START)
    assert (peg["baseline"], peg["latest"]) == (6.7, 3.3)


def test_series_dates_are_clinic_days_and_instants_are_utc() -> None:
    evening = datetime(2025, 3, 3, 21, 30, tzinfo=ZoneInfo("America/New_York"))
    summary = summarize(PHQ9, [(evening, 10)], None, tz=ZoneInfo("America/New_York"))
    assert summary["series"] == [
        {"date": "2025-03-03", "at": "2025-03-04T02:30:00+00:00", "score": 10}
    ]
    assert summarize(PHQ9, [(evening, 10)], None)["series"][0]["date"] == "2025-03-03"


@given(
    st.lists(st.tuples(st.integers(-60, 120), st.integers(0, 27)), max_size=12),
    st.booleans(),
)
def test_summary_invariants(raw: list[tuple[int, int]], treated: bool) -> None:
    points = [(day(offset), score) for offset, score in raw]
    summary = summarize(PHQ9, points, START if treated else None)
    dates = [p["at"] for p in summary["series"]]
    assert dates == sorted(dates)
    assert len(summary["series"]) == len(points)
    if summary["baseline_at"] is not None:
        assert summary["baseline_at"] <= summary["latest_at"]
    if summary["response"] is not None:
        assert summary["change_pct"] is not None
        assert summary["remission"] is not None
    if not treated:
        assert summary["response"] is None
        assert summary["remission"] is None


def test_aggregate() -> None:
    summaries = [
        summarize(PHQ9, [(day(-1), 20), (day(40), 4)], START),  # responder, remitter
        summarize(PHQ9, [(day(-1), 20), (day(40), 8)], START),  # responder
        summarize(PHQ9, [(day(-1), 20), (day(40), 15)], START),  # neither
        summarize(PHQ9, [(day(-1), 20)], START),  # not judged yet
    ]
    assert aggregate(summaries) == {
        "n": 3,
        "n_total": 4,
        "responders": 2,
        "response_rate": 66.7,
        "remitters": 1,
        "remission_rate": 33.3,
        "mean_change_pct": -55.0,
    }


def test_aggregate_of_nothing_has_no_rates() -> None:
    assert aggregate([]) == {
        "n": 0,
        "n_total": 0,
        "responders": 0,
        "response_rate": None,
        "remitters": 0,
        "remission_rate": None,
        "mean_change_pct": None,
    }


def test_aggregate_without_a_remission_rule() -> None:
    result = aggregate([summarize(PEG3, [(day(-1), 6.0), (day(30), 3.0)], START)])
    assert (result["n"], result["response_rate"], result["remission_rate"]) == (1, 100.0, None)

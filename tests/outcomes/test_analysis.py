"""Course outcome summaries and the clinic aggregate (DOMAIN.md, "Outcome measures")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.outcomes.analysis import Window, aggregate, course_result, summarize
from clinic.outcomes.catalog import get_instrument

PHQ9 = get_instrument("PHQ-9")
PEG3 = get_instrument("PEG-3")
START = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)  # first treatment


def day(offset: int) -> datetime:
    return START + timedelta(days=offset)


TREATED = Window(first_at=START, last_at=day(60))  # delivered from day 0 to day 60
UNTREATED = Window()


def test_baseline_is_the_last_response_before_the_first_treatment() -> None:
    points = [(day(-20), 22), (day(-1), 20), (day(10), 14), (day(30), 9)]
    summary = summarize(PHQ9, points, TREATED)
    assert (summary["baseline"], summary["latest"]) == (20, 9)
    assert summary["change_pct"] == -55.0
    assert summary["response"] is True
    assert summary["remission"] is False
    assert summary["baseline_at"] == day(-1).isoformat()


def test_a_response_at_the_moment_of_the_first_treatment_is_the_baseline() -> None:
    summary = summarize(PHQ9, [(day(-3), 21), (START, 18), (day(7), 15)], TREATED)
    assert summary["baseline"] == 18


def test_input_order_does_not_matter() -> None:
    points = [(day(30), 4), (day(-2), 16), (day(10), 12)]
    summary = summarize(PHQ9, points, TREATED)
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
    summary = summarize(PHQ9, [(day(-1), baseline), (day(40), latest)], TREATED)
    assert (summary["response"], summary["remission"]) == (response, remission)


def test_change_pct_rounds_to_one_decimal() -> None:
    summary = summarize(PHQ9, [(day(-1), 21), (day(40), 11)], TREATED)
    assert summary["change_pct"] == -47.6


def test_no_responses() -> None:
    assert summarize(PHQ9, [], TREATED) == {
        "baseline": None,
        "baseline_at": None,
        "latest": None,
        "latest_at": None,
        "change_pct": None,
        "response": None,
        "remission": None,
        "improvement": None,
        "series": [],
        "follow_ups": [],
    }


def test_before_treatment_the_newest_response_is_baseline_and_latest() -> None:
    summary = summarize(PHQ9, [(day(-20), 22), (day(-2), 19)], UNTREATED)
    assert (summary["baseline"], summary["latest"], summary["change_pct"]) == (19, 19, 0.0)
    assert (summary["response"], summary["remission"]) == (None, None)


def test_treated_but_not_yet_measured_again_has_no_outcome() -> None:
    summary = summarize(PHQ9, [(day(-2), 19)], TREATED)
    assert (summary["baseline"], summary["latest"]) == (19, 19)
    assert (summary["response"], summary["remission"]) == (None, None)


def test_without_a_baseline_only_remission_is_judged() -> None:
    summary = summarize(PHQ9, [(day(5), 12), (day(30), 3)], TREATED)
    assert (summary["baseline"], summary["latest"], summary["change_pct"]) == (None, 3, None)
    assert (summary["response"], summary["remission"]) == (None, True)


def test_zero_baseline_has_no_percentage() -> None:
    summary = summarize(PHQ9, [(day(-1), 0), (day(30), 2)], TREATED)
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
    summary = summarize(PEG3, [(day(-1), baseline), (day(30), latest)], TREATED)
    assert (summary["improvement"], summary["response"]) == (improvement, response)
    assert summary["remission"] is None  # PEG-3 has no remission rule


def test_scores_come_back_as_the_instrument_scores_them() -> None:
    summary = summarize(PHQ9, [(day(-1), 14.0), (day(30), 7.0)], TREATED)
    assert type(summary["baseline"]) is int
    peg = summarize(PEG3, [(day(-1), 6.666666), (day(30), 3.33)], TREATED)
    assert (peg["baseline"], peg["latest"]) == (6.7, 3.3)


def test_series_dates_are_clinic_days_and_instants_are_utc() -> None:
    evening = datetime(2025, 3, 3, 21, 30, tzinfo=ZoneInfo("America/New_York"))
    summary = summarize(PHQ9, [(evening, 10)], UNTREATED, tz=ZoneInfo("America/New_York"))
    assert summary["series"] == [
        {"date": "2025-03-03", "at": "2025-03-04T02:30:00+00:00", "score": 10}
    ]
    assert summarize(PHQ9, [(evening, 10)], UNTREATED)["series"][0]["date"] == "2025-03-03"


@given(
    st.lists(st.tuples(st.integers(-60, 120), st.integers(0, 27)), max_size=12),
    st.booleans(),
)
def test_summary_invariants(raw: list[tuple[int, int]], treated: bool) -> None:
    points = [(day(offset), score) for offset, score in raw]
    summary = summarize(PHQ9, points, TREATED if treated else UNTREATED)
    dates = [p["at"] for p in summary["series"]]
    assert dates == sorted(dates)
    assert len(summary["series"]) + len(summary["follow_ups"]) == len(points)
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
        summarize(PHQ9, [(day(-1), 20), (day(40), 4)], TREATED),  # responder, remitter
        summarize(PHQ9, [(day(-1), 20), (day(40), 8)], TREATED),  # responder
        summarize(PHQ9, [(day(-1), 20), (day(40), 15)], TREATED),  # neither
        summarize(PHQ9, [(day(-1), 20)], TREATED),  # not judged yet
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
    result = aggregate([summarize(PEG3, [(day(-1), 6.0), (day(30), 3.0)], TREATED)])
    assert (result["n"], result["response_rate"], result["remission_rate"]) == (1, 100.0, None)


# CONTRACT 8: baseline by administered time, end of course, follow-ups -----------------

NEW_YORK = ZoneInfo("America/New_York")
# The first treatment was booked for 09:00 New York (START), the patient checked in late
# and the session was logged at 10:05; the last delivered treatment was on day 30.
LOGGED = START + timedelta(hours=1, minutes=5)
COURSE = Window(first_at=START, last_at=day(30), logged_at=LOGGED, tz=NEW_YORK)


def test_a_phq9_taken_at_check_in_after_the_scheduled_start_is_the_baseline() -> None:
    """Wrong before: the baseline had to precede the scheduled start, so a PHQ-9 taken at
    check-in (09:20, after the 09:00 start) never counted and the course had no result."""
    at_check_in = START + timedelta(minutes=20)
    summary = summarize(PHQ9, [(at_check_in, 20), (day(28), 8)], COURSE, tz=NEW_YORK)
    assert summary["baseline"] == 20
    assert (summary["latest"], summary["response"]) == (8, True)


def test_an_answer_after_the_first_treatment_was_logged_is_not_the_baseline() -> None:
    later_that_day = LOGGED + timedelta(hours=3)
    summary = summarize(PHQ9, [(day(-2), 22), (later_that_day, 12)], COURSE, tz=NEW_YORK)
    assert (summary["baseline"], summary["latest"]) == (22, 12)


def test_an_answer_the_day_after_the_first_treatment_is_never_the_baseline() -> None:
    summary = summarize(PHQ9, [(day(1), 18)], COURSE, tz=NEW_YORK)
    assert summary["baseline"] is None and summary["latest"] == 18


def test_end_of_course_is_the_last_answer_up_to_7_days_after_the_last_treatment() -> None:
    # Day 37 is the 7th day after the last treatment (day 30): still the course's end.
    points = [(day(-1), 20), (day(25), 12), (day(37), 9)]
    summary = summarize(PHQ9, points, COURSE, tz=NEW_YORK)
    assert (summary["latest"], summary["change_pct"], summary["response"]) == (9, -55.0, True)
    assert summary["follow_ups"] == []


def test_follow_ups_are_reported_apart_and_never_change_the_result() -> None:
    """Wrong before: "latest" took the 1-, 3- and 6-month answers, so the result drifted."""
    points = [(day(-1), 20), (day(29), 9), (day(38), 4), (day(30 + 91), 15), (day(30 + 183), 3)]
    summary = summarize(PHQ9, points, COURSE, tz=NEW_YORK)
    assert (summary["latest"], summary["response"], summary["remission"]) == (9, True, False)
    assert [(f["months"], f["score"], f["change_pct"]) for f in summary["follow_ups"]] == [
        (1, 4, -80.0),
        (3, 15, -25.0),
        (6, 3, -85.0),
    ]
    assert [p["score"] for p in summary["series"]] == [20, 9]


def test_a_paper_baseline_entered_late_still_counts() -> None:
    """The points are administered instants: when it was typed in does not matter."""
    summary = summarize(PHQ9, [(day(-3), 19), (day(20), 9)], COURSE, tz=NEW_YORK)
    assert (summary["baseline"], summary["response"]) == (19, True)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-30, max_value=250), st.integers(min_value=0, max_value=27)
        ),
        max_size=12,
    ),
    st.sampled_from(
        [TREATED, UNTREATED, Window(first_at=START, last_at=START, tz=ZoneInfo("Asia/Tokyo"))]
    ),
)
def test_the_report_s_lean_result_is_the_course_page_s(
    answers: list[tuple[int, int]], window: Window
) -> None:
    """The clinic report picks each phase's last answer in SQL (ties: the later entry) and
    judges the pair with `course_result`: the same baseline, end, response, remission and
    improvement as `summarize`, ties included."""
    points = [(day(offset), score) for offset, score in answers]

    def last(phase: str) -> int | None:
        found = [
            (at, n, score) for n, (at, score) in enumerate(points) if window.phase(at) == phase
        ]
        return max(found)[2] if found else None

    full, lean = (
        summarize(PHQ9, points, window),
        course_result(PHQ9, last("baseline"), last("course")),
    )
    assert lean["baseline"] == full["baseline"]
    # without an end-of-course answer the page's `latest` falls back to the baseline
    assert full["latest"] == (lean["end"] if lean["end"] is not None else full["baseline"])
    for key in ("response", "remission", "improvement"):
        assert lean[key] == full[key]


NEW_YORK = ZoneInfo("America/New_York")


@given(
    st.datetimes(
        min_value=datetime(2025, 2, 20), max_value=datetime(2025, 4, 10), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=20),
    st.datetimes(
        min_value=datetime(2025, 2, 1), max_value=datetime(2025, 5, 1), timezones=st.just(UTC)
    ),
    st.none() | st.integers(min_value=-60, max_value=36 * 60),
)
def test_phases_are_told_by_clinic_days_across_a_dst_change(
    first: datetime, days: int, at: datetime, logged_after: int | None
) -> None:
    """Baseline, course and follow-up are told by clinic days (the first treatment's day,
    7 days after the last one's), across 9 March 2025's DST change in New York; a
    baseline comes before the first treatment was logged (minutes after its start), on
    its day. `Window.phase` reads them from `Window.bounds`, the instants the report's
    SQL compares: the two rules agree with the days."""
    last = first + timedelta(days=days)
    logged = first + timedelta(minutes=logged_after) if logged_after is not None else None
    window = Window(first_at=first, last_at=last, logged_at=logged, tz=NEW_YORK)

    def local(instant: datetime) -> date:
        return instant.astimezone(NEW_YORK).date()

    before_logged = at < logged if logged else at <= first
    if local(at) <= local(first) and (before_logged or at <= first):
        expected = "baseline"
    elif local(at) <= local(last) + timedelta(days=7):
        expected = "course"
    else:
        expected = "follow_up"
    assert window.phase(at) == expected

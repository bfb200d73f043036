"""PROMIS Sleep Disturbance 8a: published wording, reverse scoring and the T-score table.

The table below is typed in from the PROMIS Sleep Disturbance Scoring Manual (Short Form
8a, raw score to T-score), independently of the instrument file, and every raw score
8-40 is checked against it through real answer sets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clinic.outcomes.catalog import DEFAULT_FOLDER, get_instrument, load_catalog

MANUAL_T_SCORES = {
    8: 28.9, 9: 33.1, 10: 35.9, 11: 38.0, 12: 39.8, 13: 41.4, 14: 42.9, 15: 44.2,
    16: 45.5, 17: 46.7, 18: 47.9, 19: 49.0, 20: 50.1, 21: 51.2, 22: 52.2, 23: 53.3,
    24: 54.3, 25: 55.3, 26: 56.3, 27: 57.3, 28: 58.3, 29: 59.4, 30: 60.4, 31: 61.5,
    32: 62.6, 33: 63.7, 34: 64.9, 35: 66.1, 36: 67.5, 37: 69.0, 38: 70.8, 39: 73.0,
    40: 76.5,
}  # fmt: skip
REVERSED = (1, 2, 8)  # Sleep109 quality, Sleep116 refreshing, Sleep115 satisfied
WORDING = [
    "My sleep quality was...",
    "My sleep was refreshing.",
    "I had a problem with my sleep.",
    "I had difficulty falling asleep.",
    "My sleep was restless.",
    "I tried hard to get to sleep.",
    "I worried about not being able to fall asleep.",
    "I was satisfied with my sleep.",
]


def answers_for_raw(raw: int) -> list[int]:
    """Answer positions (1-5 as printed) whose item scores add up to `raw`."""
    scores = [1] * 8
    extra = raw - 8
    for index in range(8):
        step = min(4, extra)
        scores[index] += step
        extra -= step
    # A reversed item's score s is the answer 6 - s on the printed scale.
    return [6 - s if number in REVERSED else s for number, s in enumerate(scores, start=1)]


def severity(t: float) -> str:
    if t >= 70:
        return "severe"
    if t >= 60:
        return "moderate"
    if t >= 55:
        return "mild"
    return "within normal limits"


@pytest.mark.parametrize(("raw", "t_score"), sorted(MANUAL_T_SCORES.items()))
def test_every_raw_score_gives_the_manuals_t_score(raw: int, t_score: float) -> None:
    scored = get_instrument("PROMIS-SD-8a").score(answers_for_raw(raw))
    assert (scored.raw, scored.score, scored.severity) == (raw, t_score, severity(t_score))


def test_items_are_the_published_wording_on_a_1_to_5_scale_over_the_past_7_days() -> None:
    sleep = get_instrument("PROMIS-SD-8a")
    assert [item.text for item in sleep.items] == WORDING
    assert all((item.min, item.max) == (1, 5) for item in sleep.items)
    assert "In the past 7 days" in (sleep.preamble or "")
    assert [item.number for item in sleep.items if item.reverse] == list(REVERSED)
    assert sleep.items[0].label_for(1) == "Very poor"
    assert sleep.items[2].label_for(5) == "Very much"
    assert sleep.loinc_score == "77860-5"
    assert [item.item_id for item in sleep.items] == [
        "Sleep109", "Sleep116", "Sleep20", "Sleep44", "Sleep108", "Sleep72", "Sleep67", "Sleep115"
    ]  # fmt: skip


def test_good_sleep_answered_as_printed_scores_low_and_bad_sleep_high() -> None:
    sleep = get_instrument("PROMIS-SD-8a")
    # Very good quality, very refreshing, no problems at all, very satisfied.
    best = sleep.score([5, 5, 1, 1, 1, 1, 1, 5])
    worst = sleep.score([1, 1, 5, 5, 5, 5, 5, 1])
    assert (best.raw, best.score) == (8, 28.9)
    assert (worst.raw, worst.score, worst.severity) == (40, 76.5, "severe")
    # Without reverse scoring, "very good quality" would count as the worst answer.
    assert sleep.score([5] * 8).raw == 28


@pytest.mark.parametrize(("t_score", "band"), [(54.3, "within normal limits"), (55.3, "mild"),
                                               (59.4, "mild"), (60.4, "moderate"),
                                               (69.0, "moderate"), (70.8, "severe")])  # fmt: skip
def test_bands_are_55_mild_60_moderate_70_severe(t_score: float, band: str) -> None:
    assert get_instrument("PROMIS-SD-8a").severity_for(t_score) == band


def test_the_api_answers_the_t_score_and_the_raw_score(
    api: Any, front_desk: Any, course: Any
) -> None:
    url = f"/api/v1/patients/{course.patient_id}/responses"
    answer = api.as_(front_desk).post(
        url, json={"instrument": "PROMIS-SD-8a", "answers": answers_for_raw(30)}
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["score"], body["raw"], body["severity"]) == (60.4, 30, "moderate")
    peg = api.as_(front_desk).post(url, json={"instrument": "PEG-3", "answers": [5, 5, 6]})
    assert (peg.get_json()["score"], peg.get_json()["raw"]) == (5.3, 16)
    phq = api.as_(front_desk).post(url, json={"instrument": "PHQ-9", "answers": [1] * 9})
    assert (phq.get_json()["score"], phq.get_json()["raw"]) == (9, 9)
    listed = api.as_(front_desk).get(url + "?instrument=PROMIS-SD-8a").get_json()["items"]
    assert [(r["score"], r["raw"]) for r in listed] == [(60.4, 30)]


def test_instruments_list_sleep_with_its_table(api: Any, technician: Any) -> None:
    items = {
        i["code"]: i for i in api.as_(technician).get("/api/v1/instruments").get_json()["items"]
    }
    sleep = items["PROMIS-SD-8a"]
    assert len(sleep["items"]) == 8
    assert sleep["scoring"]["method"] == "t_score_table"
    assert sleep["scoring"]["t_scores"] == {str(k): v for k, v in MANUAL_T_SCORES.items()}
    assert sleep["cadence"]["baseline"] and sleep["cadence"]["end"]
    assert [i["reverse_scored"] for i in sleep["items"]] == [n in REVERSED for n in range(1, 9)]


def _sleep_file() -> dict[str, Any]:
    return json.loads((DEFAULT_FOLDER / "promis_sd8a.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["scoring"]["t_scores"].pop("23"), "cover every raw sum 8-40"),
        (lambda d: d["scoring"]["t_scores"].update({"41": 80.0}), "cover every raw sum"),
        (lambda d: d["scoring"]["t_scores"].update({"9": 20.0}), "rise with the raw sum"),
        (lambda d: d["scoring"].update({"method": "mean"}), "t_scores must be an object"),
        (lambda d: d.update({"score_range": {"min": 8, "max": 40}}), "score_range must be"),
        (lambda d: d["items"][0].update({"reverse": "yes"}), "reverse must be true or false"),
    ],
)
def test_a_broken_t_score_table_stops_start_up(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], Any], fragment: str
) -> None:
    data = _sleep_file()
    mutate(data)
    (tmp_path / "promis_sd8a.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(fragment)):
        load_catalog(tmp_path)


def test_a_translation_must_translate_every_item_with_the_same_answers(tmp_path: Path) -> None:
    data = json.loads((DEFAULT_FOLDER / "gad7.json").read_text(encoding="utf-8"))
    data["translations"]["es"]["items"].pop()
    (tmp_path / "gad7.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="must translate all 7 items"):
        load_catalog(tmp_path)
    data = json.loads((DEFAULT_FOLDER / "gad7.json").read_text(encoding="utf-8"))
    data["translations"]["es"]["answer_labels"].pop("3")
    (tmp_path / "gad7.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="labels must match the English ones"):
        load_catalog(tmp_path)

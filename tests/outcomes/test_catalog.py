"""The instrument catalog: published data, generic scoring, strict loading."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.outcomes.catalog import (
    DEFAULT_FOLDER,
    Instrument,
    InvalidAnswers,
    UnknownInstrument,
    get_instrument,
    load_catalog,
)

CODES = ("PHQ-9", "GAD-7", "PEG-3", "PROMIS-SD-8a")
FREQUENCY = ["Not at all", "Several days", "More than half the days", "Nearly every day"]


def _valid_answers(instrument: Instrument) -> st.SearchStrategy[list[int]]:
    return st.tuples(*(st.integers(item.min, item.max) for item in instrument.items)).map(list)


instruments = st.sampled_from(CODES).map(get_instrument)
scored = instruments.flatmap(lambda i: st.tuples(st.just(i), _valid_answers(i)))


def _is_valid(instrument: Instrument, answers: object) -> bool:
    return (
        isinstance(answers, list)
        and len(answers) == len(instrument.items)
        and all(
            type(a) is int and item.min <= a <= item.max
            for item, a in zip(instrument.items, answers, strict=True)
        )
    )


def _shipped(name: str) -> dict[str, Any]:
    return json.loads((DEFAULT_FOLDER / name).read_text(encoding="utf-8"))


def _write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- the shipped data ------------------------------------------------------------------


def test_catalog_has_the_contract_instruments() -> None:
    assert set(load_catalog()) == set(CODES)


@pytest.mark.parametrize(
    ("code", "items", "low", "high", "panel", "score"),
    [
        ("PHQ-9", 9, 0, 27, "44249-1", "44261-6"),
        ("GAD-7", 7, 0, 21, "69737-5", "70274-6"),
        ("PEG-3", 3, 0, 10, "91148-7", "91147-9"),
    ],
)
def test_shape_and_loinc_codes(
    code: str, items: int, low: int, high: int, panel: str, score: str
) -> None:
    instrument = get_instrument(code)
    assert len(instrument.items) == items
    assert (instrument.score_min, instrument.score_max) == (low, high)
    assert (instrument.loinc_panel, instrument.loinc_score) == (panel, score)
    assert instrument.lower_is_better


def test_phq9_published_wording_and_item_9() -> None:
    phq9 = get_instrument("PHQ-9")
    assert phq9.preamble == (
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    )
    assert phq9.items[0].text == "Little interest or pleasure in doing things"
    item9 = phq9.items[8]
    assert item9.loinc == "44260-8"
    assert item9.text.startswith("Thoughts that you would be better off dead")
    for item in phq9.items:
        assert [item.label_for(v) for v in range(4)] == FREQUENCY


def test_gad7_answer_labels() -> None:
    for item in get_instrument("GAD-7").items:
        assert [c["label"] for c in item.choices()] == FREQUENCY


def test_peg3_anchors_label_only_the_ends() -> None:
    pain, enjoyment, activity = get_instrument("PEG-3").items
    assert pain.label_for(0) == "No pain"
    assert pain.label_for(10) == "Pain as bad as you can imagine"
    for item in (enjoyment, activity):
        assert (item.label_for(0), item.label_for(10)) == (
            "Does not interfere",
            "Completely interferes",
        )
    assert [c["value"] for c in pain.choices()] == list(range(11))
    assert pain.label_for(5) is None


@pytest.mark.parametrize(
    ("code", "bands"),
    [
        (
            "PHQ-9",
            [
                (0, 4, "minimal"),
                (5, 9, "mild"),
                (10, 14, "moderate"),
                (15, 19, "moderately severe"),
                (20, 27, "severe"),
            ],
        ),
        ("GAD-7", [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")]),
        ("PEG-3", []),
    ],
)
def test_severity_bands_match_domain(code: str, bands: list[tuple[int, int, str]]) -> None:
    assert [(b.min, b.max, b.severity) for b in get_instrument(code).bands] == bands


def test_outcome_rules_are_data() -> None:
    phq9, peg3 = get_instrument("PHQ-9").outcome_rules, get_instrument("PEG-3").outcome_rules
    assert (phq9.response_fall_pct, phq9.remission_below) == (50, 5)
    assert peg3.remission_below is None
    assert [(lv.code, lv.min_fall_pct) for lv in peg3.improvement_levels] == [
        ("meaningful", 30),
        ("substantial", 50),
    ]


@pytest.mark.parametrize("code", CODES)
def test_to_api_is_a_superset_of_the_contract(code: str) -> None:
    api = get_instrument(code).to_api()
    assert {"code", "name", "items", "loinc_panel", "loinc_score"} <= api.keys()
    assert api["code"] == code
    for number, item in enumerate(api["items"], start=1):
        assert {"number", "text", "min", "max"} <= item.keys()
        assert item["number"] == number
    json.dumps(api)  # serialisable as is


# --- scoring ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "answers", "score", "severity"),
    [
        ("PHQ-9", [0] * 9, 0, "minimal"),
        ("PHQ-9", [1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),
        ("PHQ-9", [1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),
        ("PHQ-9", [2, 2, 2, 2, 2, 2, 2, 1, 0], 15, "moderately severe"),
        ("PHQ-9", [3] * 9, 27, "severe"),
        ("GAD-7", [2, 2, 2, 2, 2, 0, 0], 10, "moderate"),
        ("GAD-7", [3] * 7, 21, "severe"),
        ("PEG-3", [7, 5, 6], 6.0, None),
        ("PEG-3", [7, 5, 5], 5.7, None),
        ("PEG-3", [1, 0, 0], 0.3, None),
        ("PEG-3", [10, 10, 10], 10.0, None),
    ],
)
def test_scores(code: str, answers: list[int], score: float, severity: str | None) -> None:
    result = get_instrument(code).score(answers)
    assert (result.score, result.severity) == (score, severity)


def test_sum_scores_are_ints_and_mean_scores_floats() -> None:
    assert type(get_instrument("PHQ-9").score([1] * 9).score) is int
    assert type(get_instrument("PEG-3").score([1, 2, 3]).score) is float


def test_phq9_item_9_flags_suicidal_ideation() -> None:
    phq9 = get_instrument("PHQ-9")
    assert phq9.score([0] * 8 + [1]).flags == ("suicidal_ideation",)
    assert phq9.score([3] * 8 + [0]).flags == ()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([0] * 8, "PHQ-9 needs 9 answers, got 8"),
        ([0] * 10, "PHQ-9 needs 9 answers, got 10"),
        ([0, 0, 4, 0, 0, 0, 0, 0, 0], "item 3 must be between 0 and 3"),
        ([0, 0, -1, 0, 0, 0, 0, 0, 0], "item 3 must be between 0 and 3"),
        ([0, 0, 0, 0, 0, 0, 0, 0, True], "item 9 must be a whole number"),
        ([0, 0, 0, 0, 0, 0, 0, 0, 1.0], "item 9 must be a whole number"),
        ([0, 0, 0, 0, 0, 0, 0, 0, "1"], "item 9 must be a whole number"),
        ([0, 0, 0, 0, 0, 0, 0, 0, None], "item 9 must be a whole number"),
        ("000000000", "answers must be a list of whole numbers"),
        (None, "answers must be a list of whole numbers"),
    ],
)
def test_invalid_answers_name_the_problem(answers: Any, message: str) -> None:
    with pytest.raises(InvalidAnswers) as caught:
        get_instrument("PHQ-9").score(answers)
    assert caught.value.fields == {"answers": [message]}
    assert isinstance(caught.value, ValueError)


def test_invalid_answers_lists_every_bad_item() -> None:
    with pytest.raises(InvalidAnswers) as caught:
        get_instrument("GAD-7").score([0, 4, 0, False, 0, 0, 9])
    assert caught.value.fields["answers"] == [
        "item 2 must be between 0 and 3",
        "item 4 must be a whole number",
        "item 7 must be between 0 and 3",
    ]


def test_unknown_instrument() -> None:
    with pytest.raises(UnknownInstrument) as caught:
        get_instrument("BDI-II")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "unknown instrument 'BDI-II'"


def test_mean_rounds_half_up(tmp_path: Path) -> None:
    data = _shipped("peg3.json")
    data |= {
        "code": "PEG-2",
        "items": data["items"][:2],
        "scoring": {"method": "mean", "decimals": 0},
    }
    _write(tmp_path, "peg2.json", data)
    peg2 = load_catalog(tmp_path)["PEG-2"]
    assert peg2.score([0, 1]).score == 1  # 0.5; round() would give 0
    assert peg2.score([2, 3]).score == 3  # 2.5; round() would give 2


# --- properties ------------------------------------------------------------------------


@given(scored)
def test_score_always_within_range(case: tuple[Instrument, list[int]]) -> None:
    instrument, answers = case
    assert instrument.score_min <= instrument.score(answers).score <= instrument.score_max


@given(scored)
def test_every_score_is_in_exactly_one_band(case: tuple[Instrument, list[int]]) -> None:
    instrument, answers = case
    result = instrument.score(answers)
    containing = [b for b in instrument.bands if b.contains(result.score)]
    if instrument.bands:
        assert len(containing) == 1
        assert result.severity == containing[0].severity
    else:
        assert result.severity is None


@given(instruments.flatmap(lambda i: st.tuples(st.just(i), _valid_answers(i), _valid_answers(i))))
def test_severity_is_monotone_in_score(case: tuple[Instrument, list[int], list[int]]) -> None:
    instrument, first, second = case
    order = [b.severity for b in instrument.bands]
    low, high = sorted((instrument.score(first), instrument.score(second)), key=lambda s: s.score)
    if order:
        assert order.index(low.severity) <= order.index(high.severity)  # type: ignore[arg-type]


@given(_valid_answers(get_instrument("PHQ-9")))
def test_phq9_flag_iff_item_9_above_zero(answers: list[int]) -> None:
    flagged = "suicidal_ideation" in get_instrument("PHQ-9").score(answers).flags
    assert flagged == (answers[8] > 0)


_junk = st.one_of(
    st.integers(-5, 15),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=False),
    st.text(max_size=3),
    st.none(),
)


@given(
    instruments.flatmap(
        lambda i: st.tuples(
            st.just(i),
            st.one_of(
                st.lists(_junk, max_size=12),
                st.tuples(*[_junk] * len(i.items)).map(list),
                st.text(),
                st.none(),
                st.integers(),
                st.dictionaries(st.text(max_size=2), st.integers()),
            ),
        )
    )
)
def test_invalid_answers_always_raise_invalid_answers(case: tuple[Instrument, Any]) -> None:
    instrument, answers = case
    if _is_valid(instrument, answers):
        return
    with pytest.raises(InvalidAnswers) as caught:
        instrument.score(answers)
    assert caught.value.fields["answers"]


@pytest.mark.parametrize("code", CODES)
def test_every_possible_score_has_one_band_in_ascending_order(code: str) -> None:
    instrument = get_instrument(code)
    step = 10**-instrument.decimals
    count = round((instrument.score_max - instrument.score_min) / step)
    seen = []
    for n in range(count + 1):
        score = instrument.round_score(instrument.score_min + n * step)
        matches = [i for i, band in enumerate(instrument.bands) if band.contains(score)]
        assert len(matches) == (1 if instrument.bands else 0)
        seen.extend(matches)
    assert seen == sorted(seen)


# --- loading ---------------------------------------------------------------------------


def test_adding_an_instrument_is_adding_a_file(tmp_path: Path) -> None:
    for path in DEFAULT_FOLDER.glob("*.json"):
        shutil.copy(path, tmp_path)
    extra = _shipped("gad7.json") | {"code": "GAD-2", "name": "GAD-2"}
    extra["items"] = extra["items"][:2]
    extra.pop("translations")
    extra["score_range"] = {"min": 0, "max": 6}
    extra["bands"] = [
        {"min": 0, "max": 2, "severity": "negative"},
        {"min": 3, "max": 6, "severity": "positive"},
    ]
    _write(tmp_path, "gad2.json", extra)
    catalog = load_catalog(tmp_path)
    assert set(catalog) == {*CODES, "GAD-2"}
    assert catalog["GAD-2"].score([2, 1]).severity == "positive"


def _broken(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(_shipped("phq9.json"))
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (_broken(lambda d: d.pop("bands")), "missing bands"),
        (_broken(lambda d: d.update(colour="red")), "unknown key(s) colour"),
        (_broken(lambda d: d["items"][2].update(max="3")), "items[2].max must be an integer"),
        (_broken(lambda d: d["items"][2].update(number=4)), "items[2].number must be 3"),
        (_broken(lambda d: d["items"][0].update(labels={"4": "Always"})), "outside 0-3"),
        (_broken(lambda d: d["items"][0].update(loinc="44250")), "not a LOINC code"),
        (_broken(lambda d: d["bands"][1].update(min=6)), "bands[1] must start at 5"),
        (_broken(lambda d: d["bands"][-1].update(max=26)), "must end at the maximum score 27"),
        (
            _broken(lambda d: d.update(score_range={"min": 0, "max": 30})),
            "score_range must be 0-27",
        ),
        (_broken(lambda d: d["scoring"].update(method="median")), "scoring.method"),
        (_broken(lambda d: d["critical_items"][0].update(item=10)), "not an item number"),
        (_broken(lambda d: d["critical_items"][0].update(above=3)), "above must be in 0-2"),
        (_broken(lambda d: d["outcome_rules"].update(response_fall_pct=150)), "response_fall_pct"),
        (_broken(lambda d: d["cadence"].update(follow_up_months=[3, 1])), "follow_up_months"),
        (_broken(lambda d: d.update(name=" ")), "name must be a non-empty string"),
        ([], "instrument must be an object"),
    ],
)
def test_malformed_file_raises_value_error_naming_it(
    tmp_path: Path, data: object, fragment: str
) -> None:
    _write(tmp_path, "broken.json", data)
    with pytest.raises(ValueError, match=r"broken\.json") as caught:
        load_catalog(tmp_path)
    assert fragment in str(caught.value)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json"):
        load_catalog(tmp_path)


def test_duplicate_codes_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", _shipped("phq9.json"))
    _write(tmp_path, "b.json", _shipped("phq9.json"))
    with pytest.raises(ValueError, match=r"b\.json.*'PHQ-9' already defined in a\.json"):
        load_catalog(tmp_path)


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no instrument files"):
        load_catalog(tmp_path)

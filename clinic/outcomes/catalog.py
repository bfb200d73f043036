"""The questionnaire catalog: instruments are JSON data scored by one generic engine.

Adding an instrument means adding a JSON file to `instruments/`; no code here names one.
Every file is validated in full on load, so a typo in the data fails at start-up with the
file's name rather than as a wrong score in front of a clinician.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from clinic.outcomes.instrument import (
    Band,
    Cadence,
    CriticalItem,
    ImprovementLevel,
    Instrument,
    InvalidAnswers,
    Item,
    OutcomeRules,
    Score,
    Translation,
    UnknownInstrument,
)

__all__ = [
    "Cadence",
    "Instrument",
    "InvalidAnswers",
    "Item",
    "Score",
    "UnknownInstrument",
    "default_catalog",
    "get_instrument",
    "load_catalog",
]

DEFAULT_FOLDER = Path(__file__).with_name("instruments")

_LOINC = re.compile(r"^\d{1,8}-\d$")
_METHODS = ("sum", "mean")


def load_catalog(folder: Path | str | None = None) -> dict[str, Instrument]:
    """Read and validate every `*.json` instrument in `folder`, keyed by code."""
    root = Path(folder) if folder is not None else DEFAULT_FOLDER
    paths = sorted(root.glob("*.json"))
    if not paths:
        # Usually the JSON files were not shipped as package data.
        raise ValueError(f"{root}: no instrument files (*.json) found")
    catalog: dict[str, Instrument] = {}
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            instrument = _parse(json.loads(path.read_text(encoding="utf-8")))
        except (_Malformed, ValueError) as exc:
            raise ValueError(f"instrument file {path}: {exc}") from exc
        if instrument.code in seen:
            raise ValueError(
                f"instrument file {path}: code {instrument.code!r} already defined "
                f"in {seen[instrument.code].name}"
            )
        seen[instrument.code] = path
        catalog[instrument.code] = instrument
    return catalog


@cache
def default_catalog() -> Mapping[str, Instrument]:
    """The shipped catalog, read once per process and read-only."""
    return MappingProxyType(load_catalog())


def get_instrument(code: str) -> Instrument:
    try:
        return default_catalog()[code]
    except KeyError:
        raise UnknownInstrument(code) from None


class _Malformed(Exception):
    """A data error inside one file; load_catalog adds the file name."""


class _Fields:
    """Typed, strict access to one JSON object, naming the path in every error."""

    def __init__(
        self,
        value: object,
        where: str,
        required: set[str],
        optional: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        if not isinstance(value, dict):
            raise _Malformed(f"{where} must be an object")
        missing = sorted(required - value.keys())
        unknown = sorted(value.keys() - required - optional)
        if missing:
            raise _Malformed(f"{where}: missing {', '.join(missing)}")
        if unknown:
            raise _Malformed(f"{where}: unknown key(s) {', '.join(unknown)}")
        self.data: dict[str, Any] = value
        self.where = where

    def _take(self, key: str, kinds: tuple[type, ...], what: str, nullable: bool) -> Any:
        value = self.data.get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise _Malformed(f"{self.where}.{key} must be {what}")
        return value

    def integer(self, key: str) -> int:
        return self._take(key, (int,), "an integer", False)

    def maybe_integer(self, key: str) -> int | None:
        return self._take(key, (int,), "an integer or null", True)

    def number(self, key: str) -> float:
        return self._take(key, (int, float), "a number", False)

    def maybe_number(self, key: str) -> float | None:
        return self._take(key, (int, float), "a number or null", True)

    def text(self, key: str) -> str:
        value = self._take(key, (str,), "a non-empty string", False)
        if not value.strip():
            raise _Malformed(f"{self.where}.{key} must be a non-empty string")
        return value

    def maybe_text(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.text(key)

    def boolean(self, key: str) -> bool:
        return self._take(key, (bool,), "true or false", False)

    def array(self, key: str) -> list[Any]:
        return self._take(key, (list,), "a list", False)

    def child(self, key: str, required: set[str]) -> _Fields:
        return _Fields(self.data.get(key), f"{self.where}.{key}", required)

    def labels(self, key: str) -> dict[int, str]:
        raw = self._take(key, (dict,), "an object of value: label", True) or {}
        labels: dict[int, str] = {}
        for value, label in raw.items():
            if not re.fullmatch(r"-?\d+", value) or not isinstance(label, str) or not label:
                raise _Malformed(f"{self.where}.{key}: {value!r} must map a number to a label")
            labels[int(value)] = label
        return labels

    def loinc(self, key: str) -> str:
        value = self.text(key)
        if not _LOINC.match(value):
            raise _Malformed(f"{self.where}.{key}: {value!r} is not a LOINC code")
        return value

    def maybe_loinc(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.loinc(key)


def _parse(raw: object) -> Instrument:
    top = _Fields(
        raw,
        "instrument",
        {
            "code", "name", "source", "copyright", "preamble", "answer_labels", "items",
            "scoring", "score_range", "lower_is_better", "bands", "critical_items", "loinc",
            "outcome_rules", "cadence",
        },
        {"translations"},
    )  # fmt: skip
    scoring = _Fields(top.data.get("scoring"), "scoring", {"method", "decimals"}, {"t_scores"})
    method = scoring.text("method")
    decimals = scoring.integer("decimals")
    if method not in _METHODS:
        raise _Malformed(f"scoring.method must be one of {', '.join(_METHODS)}")
    if not 0 <= decimals <= 4:
        raise _Malformed("scoring.decimals must be between 0 and 4")
    items = _parse_items(top)
    t_scores = _parse_t_scores(scoring, items, method)
    score_min, score_max = _parse_range(top, items, method, t_scores)
    loinc = top.child("loinc", {"panel", "score"})
    return Instrument(
        code=top.text("code"),
        name=top.text("name"),
        preamble=top.maybe_text("preamble"),
        items=items,
        method="sum" if method == "sum" else "mean",
        decimals=decimals,
        score_min=score_min,
        score_max=score_max,
        lower_is_better=top.boolean("lower_is_better"),
        bands=_parse_bands(top, score_min, score_max, decimals),
        critical_items=_parse_critical(top, items),
        loinc_panel=loinc.maybe_loinc("panel"),
        loinc_score=loinc.loinc("score"),
        outcome_rules=_parse_rules(top, score_min, score_max),
        cadence=_parse_cadence(top),
        source=top.text("source"),
        copyright=top.text("copyright"),
        t_scores=MappingProxyType(t_scores),
        translations=MappingProxyType(_parse_translations(top, items)),
    )


def _parse_items(top: _Fields) -> tuple[Item, ...]:
    shared = top.labels("answer_labels")
    raw_items = top.array("items")
    if not raw_items:
        raise _Malformed("items must not be empty")
    items = []
    for index, raw in enumerate(raw_items):
        fields = _Fields(
            raw,
            f"items[{index}]",
            {"number", "text", "min", "max"},
            {"labels", "loinc", "reverse", "item_id"},
        )
        number, low, high = fields.integer("number"), fields.integer("min"), fields.integer("max")
        if number != index + 1:
            raise _Malformed(f"items[{index}].number must be {index + 1} (items in order)")
        if low >= high:
            raise _Malformed(f"items[{index}]: min must be below max")
        labels = fields.labels("labels") or shared
        if stray := sorted(v for v in labels if not low <= v <= high):
            raise _Malformed(f"items[{index}]: labels for values outside {low}-{high}: {stray}")
        items.append(
            Item(
                number=number,
                text=fields.text("text"),
                min=low,
                max=high,
                labels=tuple(sorted(labels.items())),
                loinc=fields.maybe_loinc("loinc"),
                reverse="reverse" in fields.data and fields.boolean("reverse"),
                item_id=fields.maybe_text("item_id"),
            )
        )
    return tuple(items)


def _parse_t_scores(scoring: _Fields, items: tuple[Item, ...], method: str) -> dict[int, float]:
    """A conversion table must give a T-score for every possible raw sum, rising with it."""
    raw = scoring.data.get("t_scores")
    if raw is None:
        return {}
    if method != "sum" or not isinstance(raw, dict):
        raise _Malformed("scoring.t_scores must be an object of raw sum: T-score (method sum)")
    low, high = sum(i.min for i in items), sum(i.max for i in items)
    table: dict[int, float] = {}
    for key, value in raw.items():
        if not re.fullmatch(r"\d+", key) or type(value) not in (int, float):
            raise _Malformed(f"scoring.t_scores: {key!r} must map a raw sum to a number")
        table[int(key)] = float(value)
    if sorted(table) != list(range(low, high + 1)):
        raise _Malformed(f"scoring.t_scores must cover every raw sum {low}-{high} exactly")
    values = [table[r] for r in range(low, high + 1)]
    if values != sorted(set(values)):
        raise _Malformed("scoring.t_scores must rise with the raw sum")
    return table


def _parse_range(
    top: _Fields, items: tuple[Item, ...], method: str, t_scores: Mapping[int, float]
) -> tuple[float, float]:
    """The declared range must match the items, so the data cannot contradict itself."""
    declared = top.child("score_range", {"min", "max"})
    low, high = declared.number("min"), declared.number("max")
    lows, highs = float(sum(i.min for i in items)), float(sum(i.max for i in items))
    if t_scores:
        lows, highs = min(t_scores.values()), max(t_scores.values())
    elif method == "mean":
        lows, highs = lows / len(items), highs / len(items)
    if (low, high) != (lows, highs):
        raise _Malformed(f"score_range must be {lows:g}-{highs:g} (computed from the items)")
    return low, high


def _parse_bands(top: _Fields, low: float, high: float, decimals: int) -> tuple[Band, ...]:
    """Bands, when given, must tile the score range in ascending order without gaps."""
    bands = []
    for index, raw in enumerate(top.array("bands")):
        fields = _Fields(raw, f"bands[{index}]", {"min", "max", "severity"})
        bands.append(Band(fields.number("min"), fields.number("max"), fields.text("severity")))
    if not bands:
        return ()
    step = Decimal(1).scaleb(-decimals)
    expected = Decimal(str(low))
    for index, band in enumerate(bands):
        if Decimal(str(band.min)) != expected or band.max < band.min:
            raise _Malformed(f"bands[{index}] must start at {expected} and end at or above it")
        expected = Decimal(str(band.max)) + step
    if bands[-1].max != high:
        raise _Malformed(f"the last band must end at the maximum score {high:g}")
    if len({b.severity for b in bands}) != len(bands):
        raise _Malformed("band severities must be unique")
    return tuple(bands)


def _parse_critical(top: _Fields, items: tuple[Item, ...]) -> tuple[CriticalItem, ...]:
    critical = []
    for index, raw in enumerate(top.array("critical_items")):
        fields = _Fields(raw, f"critical_items[{index}]", {"item", "above", "flag"})
        number, above = fields.integer("item"), fields.integer("above")
        if not 1 <= number <= len(items):
            raise _Malformed(f"critical_items[{index}].item {number} is not an item number")
        item = items[number - 1]
        if not item.min <= above < item.max:
            raise _Malformed(f"critical_items[{index}].above must be in {item.min}-{item.max - 1}")
        critical.append(CriticalItem(number, above, fields.text("flag")))
    return tuple(critical)


def _parse_rules(top: _Fields, low: float, high: float) -> OutcomeRules:
    rules = top.child(
        "outcome_rules", {"response_fall_pct", "remission_below", "improvement_levels"}
    )
    response = rules.maybe_number("response_fall_pct")
    remission = rules.maybe_number("remission_below")
    if response is not None and not 0 < response <= 100:
        raise _Malformed("outcome_rules.response_fall_pct must be in (0, 100]")
    if remission is not None and not low < remission <= high:
        raise _Malformed(f"outcome_rules.remission_below must be in ({low:g}, {high:g}]")
    levels: list[ImprovementLevel] = []
    for index, raw in enumerate(rules.array("improvement_levels")):
        fields = _Fields(
            raw, f"outcome_rules.improvement_levels[{index}]", {"code", "min_fall_pct"}
        )
        level = ImprovementLevel(fields.text("code"), fields.number("min_fall_pct"))
        if not 0 < level.min_fall_pct <= 100 or (
            levels and level.min_fall_pct <= levels[-1].min_fall_pct
        ):
            raise _Malformed(
                f"outcome_rules.improvement_levels[{index}].min_fall_pct must be in (0, 100] "
                "and above the previous level's"
            )
        levels.append(level)
    return OutcomeRules(response, remission, tuple(levels))


def _parse_cadence(top: _Fields) -> Cadence:
    cadence = top.child("cadence", {"baseline", "every_sessions", "end", "follow_up_months"})
    every = cadence.maybe_integer("every_sessions")
    months = cadence.array("follow_up_months")
    if every is not None and every < 1:
        raise _Malformed("cadence.every_sessions must be a positive integer or null")
    valid = all(type(m) is int and m > 0 for m in months) and months == sorted(set(months))
    if not valid:
        raise _Malformed("cadence.follow_up_months must be ascending positive integers")
    return Cadence(cadence.boolean("baseline"), every, cadence.boolean("end"), tuple(months))


def _parse_translations(top: _Fields, items: tuple[Item, ...]) -> dict[str, Translation]:
    """Published translations: every item's text, and labels where the scale has them."""
    raw = top.data.get("translations") or {}
    if not isinstance(raw, dict):
        raise _Malformed("translations must be an object of language: words")
    translations = {}
    for language, words in raw.items():
        where = f"translations.{language}"
        if not re.fullmatch(r"[a-z]{2}", language) or language == "en":
            raise _Malformed(f"{where}: the language must be a two-letter code other than en")
        fields = _Fields(words, where, {"name", "preamble", "answer_labels", "items", "source"})
        shared = fields.labels("answer_labels")
        texts = fields.array("items")
        if len(texts) != len(items):
            raise _Malformed(f"{where}.items must translate all {len(items)} items")
        item_texts, item_labels = [], []
        for index, (item, entry) in enumerate(zip(items, texts, strict=True)):
            item_fields = _Fields(entry, f"{where}.items[{index}]", {"text"}, {"labels"})
            labels = item_fields.labels("labels") or shared
            if sorted(labels) != sorted(dict(item.labels)):
                raise _Malformed(f"{where}.items[{index}]: labels must match the English ones")
            item_texts.append(item_fields.text("text"))
            item_labels.append(tuple(sorted(labels.items())))
        translations[language] = Translation(
            name=fields.text("name"),
            preamble=fields.maybe_text("preamble"),
            item_texts=tuple(item_texts),
            item_labels=tuple(item_labels),
            source=fields.text("source"),
        )
    return translations

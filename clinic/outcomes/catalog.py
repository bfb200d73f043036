"""The questionnaire catalog: instruments are JSON data scored by one generic engine.

Adding an instrument means adding a JSON file to `instruments/`; no code here names one.
Every file is validated in full on load, so a typo in the data fails at start-up with the
file's name rather than as a wrong score in front of a clinician.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

DEFAULT_FOLDER = Path(__file__).with_name("instruments")

_LOINC = re.compile(r"^\d{1,8}-\d$")
_METHODS = ("sum", "mean")


class UnknownInstrument(KeyError):
    """No instrument with this code; a KeyError so mapping-style callers keep working."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = f"unknown instrument {code!r}"

    def __str__(self) -> str:
        # KeyError would print only the quoted key.
        return self.message


class InvalidAnswers(ValueError):
    """Answers that cannot be scored; `fields` has the shape of the API's 422 body."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.message = "; ".join(messages)
        self.fields: dict[str, list[str]] = {"answers": messages}


@dataclass(frozen=True)
class Item:
    number: int
    text: str
    min: int
    max: int
    labels: tuple[tuple[int, str], ...] = ()
    loinc: str | None = None

    def label_for(self, value: int) -> str | None:
        """The printed wording for an answer value; None for unlabelled scale points."""
        return dict(self.labels).get(value)

    def choices(self) -> list[dict[str, Any]]:
        """Every allowed value with its label, in order, as a form draws them."""
        return [
            {"value": value, "label": self.label_for(value)}
            for value in range(self.min, self.max + 1)
        ]


@dataclass(frozen=True)
class Band:
    min: float
    max: float
    severity: str

    def contains(self, score: float) -> bool:
        return self.min <= score <= self.max


@dataclass(frozen=True)
class CriticalItem:
    """An answer above `above` on item `item` raises `flag` (an urgent alert upstream)."""

    item: int
    above: int
    flag: str


@dataclass(frozen=True)
class ImprovementLevel:
    code: str
    min_fall_pct: float


@dataclass(frozen=True)
class OutcomeRules:
    """How a course's change is judged; None where the instrument has no such rule."""

    response_fall_pct: float | None
    remission_below: float | None
    improvement_levels: tuple[ImprovementLevel, ...]


@dataclass(frozen=True)
class Cadence:
    """Default schedule for asking this questionnaire during and after a course."""

    baseline: bool
    every_sessions: int | None
    end: bool
    follow_up_months: tuple[int, ...]


@dataclass(frozen=True)
class Score:
    score: float | int
    severity: str | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    preamble: str | None
    items: tuple[Item, ...]
    method: Literal["sum", "mean"]
    decimals: int
    score_min: float
    score_max: float
    lower_is_better: bool
    bands: tuple[Band, ...]
    critical_items: tuple[CriticalItem, ...]
    loinc_panel: str
    loinc_score: str
    outcome_rules: OutcomeRules
    cadence: Cadence
    source: str
    copyright: str

    def score(self, answers: Sequence[int]) -> Score:
        """Score one completed questionnaire; raises InvalidAnswers, never anything else."""
        self._check(answers)
        total = Decimal(sum(answers))
        value = total if self.method == "sum" else total / len(self.items)
        result = self.round_score(value)
        flags = [c.flag for c in self.critical_items if answers[c.item - 1] > c.above]
        return Score(result, self.severity_for(result), tuple(dict.fromkeys(flags)))

    def round_score(self, value: Decimal | float) -> float | int:
        """Round half up to the instrument's decimals (Python's round() is half-even)."""
        step = Decimal(1).scaleb(-self.decimals)
        rounded = Decimal(str(value)).quantize(step, rounding=ROUND_HALF_UP)
        return int(rounded) if self.decimals == 0 else float(rounded)

    def severity_for(self, score: float) -> str | None:
        return next((band.severity for band in self.bands if band.contains(score)), None)

    def to_api(self) -> dict[str, Any]:
        """The contract's `/instruments` entry plus what a form or report needs."""
        rules = self.outcome_rules
        return {
            "code": self.code,
            "name": self.name,
            "preamble": self.preamble,
            "items": [
                {
                    "number": item.number,
                    "text": item.text,
                    "min": item.min,
                    "max": item.max,
                    "loinc": item.loinc,
                    "choices": item.choices(),
                }
                for item in self.items
            ],
            "loinc_panel": self.loinc_panel,
            "loinc_score": self.loinc_score,
            "scoring": {"method": self.method, "decimals": self.decimals},
            "score_min": self.score_min,
            "score_max": self.score_max,
            "lower_is_better": self.lower_is_better,
            "bands": [{"min": b.min, "max": b.max, "severity": b.severity} for b in self.bands],
            "critical_items": [
                {"item": c.item, "above": c.above, "flag": c.flag} for c in self.critical_items
            ],
            "outcome_rules": {
                "response_fall_pct": rules.response_fall_pct,
                "remission_below": rules.remission_below,
                "improvement_levels": [
                    {"code": level.code, "min_fall_pct": level.min_fall_pct}
                    for level in rules.improvement_levels
                ],
            },
            "cadence": {
                "baseline": self.cadence.baseline,
                "every_sessions": self.cadence.every_sessions,
                "end": self.cadence.end,
                "follow_up_months": list(self.cadence.follow_up_months),
            },
            "source": self.source,
            "copyright": self.copyright,
        }

    def _check(self, answers: object) -> None:
        if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
            raise InvalidAnswers(["answers must be a list of whole numbers"])
        if len(answers) != len(self.items):
            raise InvalidAnswers(
                [f"{self.code} needs {len(self.items)} answers, got {len(answers)}"]
            )
        problems = []
        for item, answer in zip(self.items, answers, strict=True):
            if not isinstance(answer, int) or isinstance(answer, bool):
                problems.append(f"item {item.number} must be a whole number")
            elif not item.min <= answer <= item.max:
                problems.append(f"item {item.number} must be between {item.min} and {item.max}")
        if problems:
            raise InvalidAnswers(problems)


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
    )  # fmt: skip
    scoring = top.child("scoring", {"method", "decimals"})
    method = scoring.text("method")
    decimals = scoring.integer("decimals")
    if method not in _METHODS:
        raise _Malformed(f"scoring.method must be one of {', '.join(_METHODS)}")
    if not 0 <= decimals <= 4:
        raise _Malformed("scoring.decimals must be between 0 and 4")
    items = _parse_items(top)
    score_min, score_max = _parse_range(top, items, method)
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
        loinc_panel=loinc.loinc("panel"),
        loinc_score=loinc.loinc("score"),
        outcome_rules=_parse_rules(top, score_min, score_max),
        cadence=_parse_cadence(top),
        source=top.text("source"),
        copyright=top.text("copyright"),
    )


def _parse_items(top: _Fields) -> tuple[Item, ...]:
    shared = top.labels("answer_labels")
    raw_items = top.array("items")
    if not raw_items:
        raise _Malformed("items must not be empty")
    items = []
    for index, raw in enumerate(raw_items):
        fields = _Fields(
            raw, f"items[{index}]", {"number", "text", "min", "max"}, {"labels", "loinc"}
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
            )
        )
    return tuple(items)


def _parse_range(top: _Fields, items: tuple[Item, ...], method: str) -> tuple[float, float]:
    """The declared range must match the items, so the data cannot contradict itself."""
    declared = top.child("score_range", {"min", "max"})
    low, high = declared.number("min"), declared.number("max")
    lows, highs = float(sum(i.min for i in items)), float(sum(i.max for i in items))
    if method == "mean":
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

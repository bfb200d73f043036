"""What an instrument is and how one answer set is scored: the catalog's data model.

`catalog.py` reads and validates the JSON files into these frozen objects; nothing here
names an instrument. Scoring covers the three shapes published instruments use: a sum
(PHQ-9), a mean (PEG-3) and a raw sum looked up in a T-score table (PROMIS), with
reverse-scored items where the scoring manual says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

ENGLISH = "en"


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


@lru_cache(maxsize=4096)
def _round_half_up(value: Decimal | float, decimals: int) -> float | int:
    """Cached: a report rounds thousands of stored scores, of a few hundred values."""
    step = Decimal(1).scaleb(-decimals)
    rounded = Decimal(str(value)).quantize(step, rounding=ROUND_HALF_UP)
    return int(rounded) if decimals == 0 else float(rounded)


@dataclass(frozen=True)
class Item:
    number: int
    text: str
    min: int
    max: int
    labels: tuple[tuple[int, str], ...] = ()
    loinc: str | None = None
    # Reverse-scored per the instrument's manual: the answer is stored as chosen (its
    # position on the printed scale) and counts as min + max - answer in the raw score.
    reverse: bool = False
    item_id: str | None = None  # the publisher's item code, e.g. PROMIS "Sleep109"

    def label_for(self, value: int) -> str | None:
        """The printed wording for an answer value; None for unlabelled scale points."""
        return dict(self.labels).get(value)

    def scored(self, answer: int) -> int:
        return self.min + self.max - answer if self.reverse else answer

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
    raw: int = 0


@dataclass(frozen=True)
class Translation:
    """A published translation's words: the same items, scale and scoring, other text."""

    name: str
    preamble: str | None
    item_texts: tuple[str, ...]
    item_labels: tuple[tuple[tuple[int, str], ...], ...]
    source: str


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
    loinc_panel: str | None
    loinc_score: str
    outcome_rules: OutcomeRules
    cadence: Cadence
    source: str
    copyright: str
    # raw sum -> T-score from the scoring manual's table (PROMIS); empty for the others.
    t_scores: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({}))
    translations: Mapping[str, Translation] = field(default_factory=lambda: MappingProxyType({}))
    language: str = ENGLISH

    @property
    def raw_min(self) -> int:
        return sum(item.min for item in self.items)

    @property
    def raw_max(self) -> int:
        return sum(item.max for item in self.items)

    @property
    def languages(self) -> tuple[str, ...]:
        return (ENGLISH, *sorted(self.translations))

    def raw_score(self, answers: Sequence[int]) -> int:
        """The sum of item scores after reverse-scoring (the manual's "raw score")."""
        return sum(item.scored(a) for item, a in zip(self.items, answers, strict=True))

    def score(self, answers: Sequence[int]) -> Score:
        """Score one completed questionnaire; raises InvalidAnswers, never anything else."""
        self._check(answers)
        raw = self.raw_score(answers)
        value: Decimal | float
        if self.t_scores:
            value = self.t_scores[raw]
        elif self.method == "sum":
            value = Decimal(raw)
        else:
            value = Decimal(raw) / len(self.items)
        result = self.round_score(value)
        flags = [c.flag for c in self.critical_items if answers[c.item - 1] > c.above]
        return Score(result, self.severity_for(result), tuple(dict.fromkeys(flags)), raw)

    def round_score(self, value: Decimal | float) -> float | int:
        """Round half up to the instrument's decimals (Python's round() is half-even)."""
        return _round_half_up(value, self.decimals)

    def severity_for(self, score: float) -> str | None:
        return next((band.severity for band in self.bands if band.contains(score)), None)

    def in_language(self, language: str) -> Instrument:
        """The published wording in `language`, or this (English) one when none exists."""
        words = self.translations.get(language)
        if words is None:
            return self
        items = tuple(
            replace(item, text=text, labels=labels or item.labels)
            for item, text, labels in zip(
                self.items, words.item_texts, words.item_labels, strict=True
            )
        )
        return replace(
            self,
            name=words.name,
            preamble=words.preamble,
            items=items,
            source=words.source,
            language=language,
        )

    def to_api(self) -> dict[str, Any]:
        """The contract's `/instruments` entry plus what a form or report needs."""
        rules = self.outcome_rules
        return {
            "code": self.code,
            "name": self.name,
            "language": self.language,
            "languages": list(self.languages),
            "preamble": self.preamble,
            "items": [
                {
                    "number": item.number,
                    "text": item.text,
                    "min": item.min,
                    "max": item.max,
                    "loinc": item.loinc,
                    "item_id": item.item_id,
                    "reverse_scored": item.reverse,
                    "choices": item.choices(),
                }
                for item in self.items
            ],
            "loinc_panel": self.loinc_panel,
            "loinc_score": self.loinc_score,
            "scoring": {
                "method": "t_score_table" if self.t_scores else self.method,
                "decimals": self.decimals,
                "raw_min": self.raw_min,
                "raw_max": self.raw_max,
                "t_scores": {str(raw): t for raw, t in self.t_scores.items()} or None,
            },
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

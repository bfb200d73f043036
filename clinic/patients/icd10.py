"""ICD-10-CM codes: the pattern, normalisation, and names for the codes a TMS clinic sees.

Only the shape of a code is checked (the full code set is licensed data, updated yearly);
the table below gives a description for the common depression and chronic-pain codes so
the chart reads well. An unknown but well-formed code is kept without a description.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Letter, digit, digit-or-letter, then optionally a dot and 1-4 characters (7th-character
# extensions such as "S06.0X1A" included). Entered without the dot ("F331") it is added.
CODE_PATTERN = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
_UNDOTTED = re.compile(r"^([A-Z][0-9][0-9A-Z])([0-9A-Z]{1,4})$")
_SEPARATORS = re.compile(r"[,;\s]+")

DESCRIPTIONS: dict[str, str] = {
    "F32": "Major depressive disorder, single episode",
    "F32.0": "Major depressive disorder, single episode, mild",
    "F32.1": "Major depressive disorder, single episode, moderate",
    "F32.2": "Major depressive disorder, single episode, severe without psychotic features",
    "F32.3": "Major depressive disorder, single episode, severe with psychotic features",
    "F32.4": "Major depressive disorder, single episode, in partial remission",
    "F32.5": "Major depressive disorder, single episode, in full remission",
    "F32.9": "Major depressive disorder, single episode, unspecified",
    "F32.A": "Depression, unspecified",
    "F33": "Major depressive disorder, recurrent",
    "F33.0": "Major depressive disorder, recurrent, mild",
    "F33.1": "Major depressive disorder, recurrent, moderate",
    "F33.2": "Major depressive disorder, recurrent, severe without psychotic features",
    "F33.3": "Major depressive disorder, recurrent, severe with psychotic symptoms",
    "F33.40": "Major depressive disorder, recurrent, in remission, unspecified",
    "F33.41": "Major depressive disorder, recurrent, in partial remission",
    "F33.42": "Major depressive disorder, recurrent, in full remission",
    "F33.8": "Other recurrent depressive disorders",
    "F33.9": "Major depressive disorder, recurrent, unspecified",
    "F34.1": "Dysthymic disorder",
    "F41.1": "Generalized anxiety disorder",
    "F43.10": "Post-traumatic stress disorder, unspecified",
    "F42.2": "Mixed obsessional thoughts and acts",
    "G89": "Pain, not elsewhere classified",
    "G89.21": "Chronic pain due to trauma",
    "G89.28": "Other chronic postprocedural pain",
    "G89.29": "Other chronic pain",
    "G89.4": "Chronic pain syndrome",
    "G43": "Migraine",
    "G43.709": "Chronic migraine without aura, not intractable, without status migrainosus",
    "G43.719": "Chronic migraine without aura, intractable, without status migrainosus",
    "G43.909": "Migraine, unspecified, not intractable, without status migrainosus",
    "G50.0": "Trigeminal neuralgia",
    "G62.9": "Polyneuropathy, unspecified",
    "M54": "Dorsalgia",
    "M54.2": "Cervicalgia",
    "M54.50": "Low back pain, unspecified",
    "M54.59": "Other low back pain",
    "M54.6": "Pain in thoracic spine",
    "M79.7": "Fibromyalgia",
    "M79.2": "Neuralgia and neuritis, unspecified",
    "R52": "Pain, unspecified",
}


def normalise(code: str) -> str:
    """Uppercase, trimmed, with the dot after the category ("f331" -> "F33.1")."""
    cleaned = code.strip().upper()
    undotted = _UNDOTTED.match(cleaned)
    return f"{undotted[1]}.{undotted[2]}" if undotted else cleaned


def is_valid(code: str) -> bool:
    return bool(CODE_PATTERN.match(code))


def describe(code: str) -> str | None:
    """The code's name, else its category's (F32.89 -> "Major depressive disorder, ...")."""
    return DESCRIPTIONS.get(code) or DESCRIPTIONS.get(code.split(".", 1)[0])


def split_codes(text: str | None) -> list[str]:
    """Codes typed in one box or one CSV cell, separated by commas, semicolons or spaces."""
    return [part for part in _SEPARATORS.split(text or "") if part]


def unique_in_order(codes: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(codes))

"""Field checks shared by every way data enters intake: API, pages, CSV import.

Each check takes the error collector, the field name and the raw value, and returns the
cleaned value (or None). Services describe their fields as a mapping of name -> check,
so one rule lives in one place and every entry path gets the same messages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from clinic import clock
from clinic.errors import Invalid
from clinic.patients import icd10

# No date in a chart is older than this: a year typed as 0980 is a typo, not history.
EARLIEST_DATE = date(1900, 1, 1)

REQUIRED = "This field is required."
DEFAULT_PHONE_REGION = "US"
MAX_PHONE_INPUT = 40
MAX_EMAIL_INPUT = 254
MAX_DIAGNOSES = 30


class FieldErrors:
    """Collects every problem with a submission so the user sees them all at once."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self, message: str = "Some fields are not valid.") -> None:
        if self.fields:
            raise Invalid(message, fields=self.fields)


Check = Callable[[FieldErrors, str, Any], Any]


def clean(
    checks: Mapping[str, Check], values: object, *, partial: bool
) -> tuple[dict[str, Any], FieldErrors]:
    """Run the checks; `partial` (an edit) checks only the keys given. `values` is whatever
    a caller was sent (a JSON body may be a list): anything but a mapping is refused."""
    errors = FieldErrors()
    if not isinstance(values, Mapping):
        errors.add("_schema", "Send an object of fields.")
        return {}, errors
    for name in values:
        if name not in checks:
            errors.add(str(name), "Unknown field.")
    cleaned: dict[str, Any] = {}
    for name, check in checks.items():
        if partial and name not in values:
            continue
        cleaned[name] = check(errors, name, values.get(name))
    return cleaned, errors


def _storable(value: str, *, multiline: bool) -> bool:
    """No control characters (NUL breaks PostgreSQL) and no lone surrogates (not UTF-8)."""
    allowed = {"\n", "\r", "\t"} if multiline else set()
    return not any(
        unicodedata.category(char) in ("Cc", "Cs") and char not in allowed for char in value
    )


def text(max_length: int, *, required: bool = False, multiline: bool = False) -> Check:
    def check(errors: FieldErrors, name: str, value: Any) -> str | None:
        if value is not None and not isinstance(value, str):
            errors.add(name, "Must be text.")
            return None
        value = (value or "").strip()
        if not value:
            if required:
                errors.add(name, REQUIRED)
            return None
        if len(value) > max_length:
            errors.add(name, f"At most {max_length} characters.")
        elif not _storable(value, multiline=multiline):
            errors.add(name, "Contains characters that cannot be stored (control characters).")
        return value

    return check


def search_text(value: str | None, max_length: int = 100) -> str:
    """A search box's text, trimmed; refuses what the database cannot compare."""
    errors = FieldErrors()
    cleaned = text(max_length)(errors, "q", value)
    errors.raise_if_any("The search text is not valid.")
    return cleaned or ""


def integer(minimum: int, maximum: int, *, required: bool = False) -> Check:
    def check(errors: FieldErrors, name: str, value: Any) -> int | None:
        if value is None or value == "":
            if required:
                errors.add(name, REQUIRED)
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            errors.add(name, "Must be a whole number.")
            return None
        if not minimum <= value <= maximum:
            errors.add(name, f"Must be between {minimum} and {maximum}.")
            return None
        return value

    return check


def number(minimum: float, maximum: float, *, required: bool = False) -> Check:
    """A quantity such as a dose: an int or a finite float within the bounds."""

    def check(errors: FieldErrors, name: str, value: Any) -> float | None:
        if value is None or value == "":
            if required:
                errors.add(name, REQUIRED)
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            errors.add(name, "Must be a number.")
            return None
        if not minimum <= value <= maximum:
            errors.add(name, f"Must be between {minimum:g} and {maximum:g}.")
            return None
        return float(value)

    return check


def a_date(
    *, required: bool = False, earliest: date | None = None, not_future: bool = False
) -> Check:
    def check(errors: FieldErrors, name: str, value: Any) -> date | None:
        if value is None or value == "":
            if required:
                errors.add(name, REQUIRED)
            return None
        if isinstance(value, datetime) or not isinstance(value, date):
            errors.add(name, "Must be a date (YYYY-MM-DD).")
            return None
        if earliest is not None and value < earliest:
            errors.add(name, f"Must not be before {earliest.isoformat()}.")
        elif not_future and value > clock.today():
            errors.add(name, "Must not be in the future.")
        return value

    return check


def boolean(errors: FieldErrors, name: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        errors.add(name, "Must be true or false.")
        return False
    return value


def one_of(choices: tuple[str, ...], *, aliases: Mapping[str, str] | None = None) -> Check:
    def check(errors: FieldErrors, name: str, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            errors.add(name, f"Must be one of: {', '.join(choices)}.")
            return None
        key = value.strip().lower()
        key = (aliases or {}).get(key, key)
        if key not in choices:
            errors.add(name, f"Must be one of: {', '.join(choices)}.")
            return None
        return key

    return check


def phone(errors: FieldErrors, name: str, value: Any) -> str | None:
    """Any way people write a number, stored as E.164 (+15555550123); US when no +code."""
    raw = text(MAX_PHONE_INPUT)(errors, name, value)
    if raw is None or name in errors.fields:
        return None
    try:
        parsed = phonenumbers.parse(raw, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        errors.add(name, "Not a valid phone number (e.g. +1 212 555 0123).")
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


POSTAL_ADDRESS = re.compile(
    r"^(?P<street>[^,]+),\s*(?P<city>[^,]+),\s*(?P<state>[A-Z]{2})\s+(?P<zip>\d{5}(-?\d{4})?)$"
)


def postal_address(errors: FieldErrors, name: str, value: Any) -> str | None:
    """A US mailing address on one line, `street, city, ST 12345[-6789]` (claims need
    its parts)."""
    raw = text(200)(errors, name, value)
    if raw is None or name in errors.fields:
        return None
    if POSTAL_ADDRESS.match(raw) is None:
        errors.add(name, "Write it as: street, city, ST 12345 (or 12345-6789).")
        return None
    return raw


def address_parts(value: str) -> dict[str, str] | None:
    """{street, city, state, zip} of an address `postal_address` accepted."""
    match = POSTAL_ADDRESS.match(value.strip())
    if match is None:
        return None
    return {
        "street": match["street"].strip(),
        "city": match["city"].strip(),
        "state": match["state"],
        "zip": match["zip"].replace("-", ""),
    }


def email(errors: FieldErrors, name: str, value: Any) -> str | None:
    raw = text(MAX_EMAIL_INPUT)(errors, name, value)
    if raw is None or name in errors.fields:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        errors.add(name, f"Not a valid email address: {exc}")
        return None


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone(errors: FieldErrors, name: str, value: Any) -> str | None:
    """An IANA zone name (America/Chicago); empty means the clinic's."""
    raw = text(64)(errors, name, value)
    if raw is None or name in errors.fields:
        return None
    if raw not in _zones():
        errors.add(name, "Not a known time zone (use an IANA name such as America/Chicago).")
        return None
    return raw


def diagnosis_codes(errors: FieldErrors, name: str, value: Any) -> list[str]:
    """ICD-10-CM codes, normalised (uppercase, dotted) and without duplicates."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(code, str) for code in value):
        errors.add(name, "Must be a list of ICD-10-CM codes.")
        return []
    codes = icd10.unique_in_order(icd10.normalise(code) for code in value if code.strip())
    if len(codes) > MAX_DIAGNOSES:
        errors.add(name, f"At most {MAX_DIAGNOSES} diagnoses.")
        return []
    bad = [code for code in codes if not icd10.is_valid(code)]
    if bad:
        shown = ", ".join(code[:12] for code in bad[:5])
        errors.add(name, f"Not an ICD-10-CM code (e.g. F33.1): {shown}.")
        return []
    return codes

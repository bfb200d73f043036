"""Registering patients and changing their intake record (demographics, contact details,
consents, diagnoses) and spotting duplicates (finding them by a fragment: `search`).

Every function here is called the same way by the pages, the JSON API, the CSV import and
the demo loader: explicit values in, a model (or a DomainError) out. Changes are audited
in the same transaction; searches are audited too.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.errors import Conflict
from clinic.extensions import db
from clinic.patients import validation
from clinic.patients.consents import CONSENT_CHANNELS, set_consent
from clinic.patients.lookup import get_patient
from clinic.patients.models import LANGUAGES, Patient, name_key
from clinic.patients.records import set_diagnoses
from clinic.patients.validation import EARLIEST_DATE, a_date, boolean, integer, one_of, text

SEXES = ("female", "male", "other", "unknown")
SEX_ALIASES = {"f": "female", "m": "male", "o": "other", "u": "unknown"}
CHANNELS = ("sms", "email", "none")
CHANNEL_NEEDS = {
    "sms": ("phone", "Choosing SMS needs a phone number."),
    "email": ("email", "Choosing email needs an email address."),
}
MRN_ATTEMPTS = 8

PATIENT_CHECKS: dict[str, validation.Check] = {
    "first_name": text(100, required=True),
    "last_name": text(100, required=True),
    "date_of_birth": a_date(required=True, earliest=EARLIEST_DATE, not_future=True),
    "sex": one_of(SEXES, aliases=SEX_ALIASES),
    "email": validation.email,
    "phone": validation.phone,
    "preferred_channel": one_of(CHANNELS),
    "sms_consent": boolean,
    "email_consent": boolean,
    "timezone": validation.timezone,
    "language": one_of(LANGUAGES),
    "diagnoses": validation.diagnosis_codes,
    "address": validation.postal_address,
    "referring_provider": text(200),
    "emergency_contact_name": text(200),
    "emergency_contact_phone": validation.phone,
    "pain_sites": text(300),
    "pain_duration_months": integer(0, 1200),
    "psychotherapy": text(2000, multiline=True),
    "notes": text(5000, multiline=True),
}
PATIENT_FIELDS = tuple(PATIENT_CHECKS)


def find_duplicates(first_name: str, last_name: str, date_of_birth: date) -> list[Patient]:
    """Patients with the same date of birth and the same names after Unicode NFC
    normalisation and case folding (`name_key`), oldest first."""
    return list(
        db.session.scalars(
            select(Patient)
            .where(
                Patient.date_of_birth == date_of_birth,
                Patient.name_key == name_key(first_name, last_name),
            )
            .order_by(Patient.id)
        )
    )


def find_duplicate(first_name: str, last_name: str, date_of_birth: date) -> Patient | None:
    """The oldest possible duplicate, if any."""
    return next(iter(find_duplicates(first_name, last_name, date_of_birth)), None)


def _serialise_registrations(key: str, date_of_birth: date) -> None:
    """Make two registrations of the same person queue, so the second sees the first.

    A unique index cannot do it (staff may register a true namesake on purpose with
    `allow_duplicate`), so on PostgreSQL a transaction-scoped advisory lock on the
    (name key, date of birth) pair orders them: the second waits for the first to commit
    and its check (a fresh snapshot under READ COMMITTED) then finds it. On SQLite every
    writing transaction already begins IMMEDIATE: registrations run one at a time."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"patient:{key}:{date_of_birth}".encode(), digest_size=8).digest()
    db.session.execute(
        sql("SELECT pg_advisory_xact_lock(:key)"),
        {"key": int.from_bytes(digest, "big", signed=True)},
    )


def refuse_duplicates(first_name: str, last_name: str, date_of_birth: date) -> None:
    """409 `possible_duplicate` naming the matches ({id, mrn}) when the person may
    already be registered; call it before inserting, in the same transaction."""
    _serialise_registrations(name_key(first_name, last_name), date_of_birth)
    matches = find_duplicates(first_name, last_name, date_of_birth)
    if matches:
        listed = ", ".join(f"MRN {patient.mrn}" for patient in matches)
        raise Conflict(
            f"A patient with this name and date of birth is already registered ({listed}). "
            "Open that record, or register anyway if this is another person.",
            code="possible_duplicate",
            details={"matches": [{"id": p.id, "mrn": p.mrn} for p in matches]},
        )


def new_mrn() -> str:
    """Eight digits: seven random, then a Luhn check digit that catches most typos."""
    body = str(secrets.randbelow(9_000_000) + 1_000_000)
    return body + luhn_digit(body)


def luhn_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return str((10 - total % 10) % 10)


def _clean_patient(values: Mapping[str, Any], current: Patient | None) -> dict[str, Any]:
    cleaned, errors = validation.clean(PATIENT_CHECKS, values, partial=current is not None)
    channel = cleaned.get("preferred_channel") or (
        current.preferred_channel if current and "preferred_channel" not in cleaned else "none"
    )
    cleaned["preferred_channel"] = channel
    if "language" in cleaned and cleaned["language"] is None:
        del cleaned["language"]  # empty means "leave it": English for a new patient
    needed = CHANNEL_NEEDS.get(channel)
    if needed is not None:
        contact, message = needed
        have = cleaned[contact] if contact in cleaned else getattr(current, contact, None)
        if not have and contact not in errors.fields:
            errors.add("preferred_channel", message)
    errors.raise_if_any("The patient has invalid fields.")
    return cleaned


def _insert_with_new_mrn(patient: Patient) -> None:
    """Insert under a fresh MRN; the unique key decides, and a clash just draws again."""
    for _ in range(MRN_ATTEMPTS):
        patient.mrn = new_mrn()
        try:
            with db.session.begin_nested():
                db.session.add(patient)
                db.session.flush()
        except IntegrityError:
            continue
        return
    raise Conflict("Could not allocate a unique MRN; try again.", code="mrn_unavailable")


def create_patient(
    values: Mapping[str, Any],
    *,
    actor_id: int | None,
    source: str = "staff",
    allow_duplicate: bool = False,
) -> Patient:
    """Register a patient from intake values (see PATIENT_FIELDS); 422 lists every bad field,
    409 `possible_duplicate` when the person seems registered already (unless
    `allow_duplicate`: staff checked it is another person).

    The patient gets a unique MRN; consents given now are timestamped and logged.
    """
    cleaned = _clean_patient(values, None)
    if not allow_duplicate:
        refuse_duplicates(cleaned["first_name"], cleaned["last_name"], cleaned["date_of_birth"])
    consents = {channel: cleaned.pop(attr) for channel, attr in CONSENT_CHANNELS.items()}
    codes = cleaned.pop("diagnoses")
    patient = Patient(**cleaned, sms_consent=False, email_consent=False)
    set_diagnoses(patient, codes)
    _insert_with_new_mrn(patient)
    record(actor_id, AuditAction.CREATE, "patient", patient.id, detail={"source": source})
    for channel, granted in consents.items():
        set_consent(patient, channel, granted, actor_id=actor_id, source=source)
    db.session.flush()
    return patient


def update_patient(
    patient: Patient | int,
    changes: Mapping[str, Any],
    *,
    actor_id: int | None,
    source: str = "staff",
) -> Patient:
    """Change some intake fields (only the keys given); audited with the changed names."""
    patient = get_patient(patient)
    cleaned = _clean_patient(changes, patient)
    changed: list[str] = []
    for channel, attribute in CONSENT_CHANNELS.items():
        if attribute in cleaned and set_consent(
            patient, channel, cleaned.pop(attribute), actor_id=actor_id, source=source
        ):
            changed.append(attribute)
    if "diagnoses" in cleaned and set_diagnoses(patient, cleaned.pop("diagnoses")):
        changed.append("diagnoses")
    for name, value in cleaned.items():
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    patient.name_key = name_key(patient.first_name, patient.last_name)
    scalar_changes = [name for name in changed if name not in CONSENT_CHANNELS.values()]
    if scalar_changes:
        record(
            actor_id, AuditAction.UPDATE, "patient", patient.id, detail={"fields": scalar_changes}
        )
    db.session.flush()
    return patient

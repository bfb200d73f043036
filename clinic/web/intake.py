"""Intake in one step: a new patient with the insurance authorization, the safety
screening and the signed TMS consent, saved together or not at all.

Each part goes through the service that owns it (registration and its duplicate check in
`patients.intake`, authorizations in `patients.records`, the screening in
`patients.screening`, the consent in `documents.consent`); this only orders them in the
caller's one transaction and names the part a refusal came from, so the page can show it
on the right fields. It lives in `web` because the consent (documents) sits above the
patient's own records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from clinic.documents.consent import sign_consent
from clinic.documents.models import ConsentSignature
from clinic.errors import DomainError
from clinic.patients.intake import create_patient
from clinic.patients.models import Authorization, Patient, Screening
from clinic.patients.records import add_authorization
from clinic.patients.screening import record_screening

T = TypeVar("T")


class Section(StrEnum):
    """The parts of intake, as a refusal's `details["section"]` names them."""

    PATIENT = "patient"
    INSURANCE = "insurance"
    SCREENING = "screening"
    CONSENT = "consent"


@dataclass(frozen=True)
class ScreeningAnswers:
    answers: Mapping[str, bool]
    notes: str | None = None


@dataclass(frozen=True)
class ConsentGiven:
    """The patient's signature of the TMS consent (see `documents.consent.sign_consent`)."""

    signer_name: str
    method: str
    signature: str


@dataclass(frozen=True)
class Intake:
    patient: Patient
    authorization: Authorization | None
    screening: Screening | None
    consent: ConsentSignature | None


def _part(section: Section, action: Callable[[], T]) -> T:
    """Run one part; a refusal comes back as the same error with its fields prefixed by
    the section (`screening.answers.pregnancy`) and `details["section"]` set."""
    try:
        return action()
    except DomainError as error:
        raise type(error)(
            error.message,
            code=error.code,
            fields={f"{section}.{name}": messages for name, messages in error.fields.items()},
            details={**error.details, "section": section.value},
        ) from error


def take_intake(
    patient_values: Mapping[str, Any],
    *,
    actor_id: int,
    insurance: Mapping[str, Any] | None = None,
    screening: ScreeningAnswers | None = None,
    consent: ConsentGiven | None = None,
    allow_duplicate: bool = False,
) -> Intake:
    """Register a patient (409 `possible_duplicate` first, unless `allow_duplicate`), then
    add what else was given: an insurance authorization (a draft unless a status is
    given), the screening (every answer recorded) and the signed consent.

    The first refusal stops it with the section named; the caller's rollback then leaves
    nothing half-registered. The consent comes last because it also writes the signed
    PDF to the document store, which a rollback cannot take back.
    """
    patient = _part(
        Section.PATIENT,
        lambda: create_patient(patient_values, actor_id=actor_id, allow_duplicate=allow_duplicate),
    )
    authorization = (
        _part(
            Section.INSURANCE,
            lambda: add_authorization(patient, insurance, actor_id=actor_id),
        )
        if insurance is not None
        else None
    )
    recorded = (
        _part(
            Section.SCREENING,
            lambda: record_screening(
                patient, screening.answers, screening.notes, actor_id=actor_id
            ),
        )
        if screening is not None
        else None
    )
    signed = (
        _part(
            Section.CONSENT,
            lambda: sign_consent(
                patient.id,
                signer_name=consent.signer_name,
                method=consent.method,
                signature=consent.signature,
                actor_id=actor_id,
            ),
        )
        if consent is not None
        else None
    )
    return Intake(patient, authorization, recorded, signed)

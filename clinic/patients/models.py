"""Patients and everything taken at intake: diagnoses, medication trials, insurance
authorizations, consent history and versioned safety screenings."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.auth.models import User
from clinic.db import one_of
from clinic.extensions import Model


def name_key(first_name: str, last_name: str) -> str:
    """The names as a duplicate check compares them: NFC, case-folded, trimmed (so
    "José" typed with a combining accent matches the precomposed one)."""
    return "\x1f".join(
        unicodedata.normalize("NFC", name).casefold().strip() for name in (first_name, last_name)
    )


def _default_name_key(context: Any) -> str:
    values = context.get_current_parameters()
    return name_key(values["first_name"], values["last_name"])


class PreferredChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    NONE = "none"


class MedicationCategory(StrEnum):
    """What the medication-load figures count: opioids in MME, benzodiazepines in diazepam."""

    OPIOID = "opioid"
    BENZODIAZEPINE = "benzodiazepine"
    ANTIDEPRESSANT = "antidepressant"
    OTHER = "other"


class AuthorizationStatus(StrEnum):
    """Where a prior authorization is with the payer; only `approved` counts on a meter."""

    DRAFT = "draft"
    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"
    APPEALED = "appealed"
    EXPIRED = "expired"


class Language(StrEnum):
    """The patient's language: links, questionnaire pages and messages use it."""

    ENGLISH = "en"
    SPANISH = "es"


LANGUAGES = tuple(Language)


class ScreeningResult(StrEnum):
    CLEAR = "clear"
    REVIEW = "review"  # a relative contraindication: a clinician decides
    CONTRAINDICATED = "contraindicated"


class PersonName:
    """A patient's name as pages show it, for the record and for the rows read without
    it (the day board's sessions)."""

    first_name: str
    last_name: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def initials(self) -> str:
        return f"{self.first_name[:1]}{self.last_name[:1]}".upper()


class Patient(PersonName, Model):
    __tablename__ = "patients"
    __table_args__ = (
        one_of("preferred_channel", PreferredChannel, name="channel"),
        one_of("language", Language, name="language"),
        Index("ix_patients_name_dob", "last_name", "first_name", "date_of_birth"),
        Index("ix_patients_dob_name_key", "date_of_birth", "name_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    # Kept by `intake` (and filled on insert): the duplicate check's index, not unique,
    # since staff may register a true namesake on purpose (`allow_duplicate`).
    name_key: Mapped[str] = mapped_column(String(210), default=_default_name_key)
    sex: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    # E.164; indexed for an SMS opt-out, which finds the patients by the number it came from.
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    preferred_channel: Mapped[str] = mapped_column(String(10), default="none")
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_consent_at: Mapped[datetime | None]
    email_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    email_consent_at: Mapped[datetime | None]
    timezone: Mapped[str | None] = mapped_column(String(64))  # None: the clinic's
    address: Mapped[str | None] = mapped_column(String(200))  # street, city, ST 12345
    language: Mapped[str] = mapped_column(
        String(5), default=Language.ENGLISH, server_default=Language.ENGLISH
    )
    referring_provider: Mapped[str | None] = mapped_column(String(200))
    emergency_contact_name: Mapped[str | None] = mapped_column(String(200))
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(20))
    pain_sites: Mapped[str | None] = mapped_column(String(300))
    pain_duration_months: Mapped[int | None] = mapped_column(Integer)
    # Psychotherapy tried (kind, duration, outcome), as payers ask before authorizing TMS.
    psychotherapy: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    diagnoses: Mapped[list[Diagnosis]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Diagnosis.id"
    )
    medication_trials: Mapped[list[MedicationTrial]] = relationship(
        back_populates="patient",
        cascade="all, delete-orphan",
        order_by="MedicationTrial.start_date",
    )
    medications: Mapped[list[Medication]] = relationship(
        back_populates="patient",
        cascade="all, delete-orphan",
        order_by="Medication.id",
    )
    authorizations: Mapped[list[Authorization]] = relationship(
        back_populates="patient", order_by="Authorization.valid_from"
    )
    screenings: Mapped[list[Screening]] = relationship(
        back_populates="patient", order_by="Screening.version"
    )

    def address_for(self, channel: str) -> str | None:
        """Where a message by `channel` reaches the patient, or None without their consent
        or an address: the one rule for reminders, links and the chart's send buttons."""
        if channel == PreferredChannel.EMAIL:
            return self.email if self.email_consent and self.email else None
        if channel == PreferredChannel.SMS:
            return self.phone if self.sms_consent and self.phone else None
        return None


class Diagnosis(Model):
    """An ICD-10-CM code on the patient's problem list (F32.x, F33.x, G89.x, M79.7 ...)."""

    __tablename__ = "diagnoses"
    __table_args__ = (UniqueConstraint("patient_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(10))
    description: Mapped[str | None] = mapped_column(String(200))

    patient: Mapped[Patient] = relationship(back_populates="diagnoses")


class MedicationTrial(Model):
    """An antidepressant (or pain medication) trial, as payers ask for before TMS."""

    __tablename__ = "medication_trials"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    drug: Mapped[str] = mapped_column(String(120))
    drug_class: Mapped[str | None] = mapped_column(String(80))
    dose: Mapped[str | None] = mapped_column(String(80))
    start_date: Mapped[date | None] = mapped_column(Date)
    stop_date: Mapped[date | None] = mapped_column(Date)
    weeks_at_dose: Mapped[int | None] = mapped_column(Integer)
    reason_stopped: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    patient: Mapped[Patient] = relationship(back_populates="medication_trials")


class Medication(Model):
    """A medication the patient takes now (or took while in our care): the one list whose
    changes move the seizure threshold, so a change asks for a new motor threshold."""

    __tablename__ = "medications"
    __table_args__ = (
        one_of("category", MedicationCategory, name="category"),
        CheckConstraint("dose_mg IS NULL OR dose_mg >= 0", name="dose_nonnegative"),
        CheckConstraint(
            "doses_per_day IS NULL OR doses_per_day >= 0", name="doses_per_day_nonnegative"
        ),
        CheckConstraint(
            "stopped_on IS NULL OR started_on IS NULL OR stopped_on >= started_on",
            name="stopped_after_started",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    drug: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(20))
    dose_mg: Mapped[float | None] = mapped_column(Float)
    doses_per_day: Mapped[float | None] = mapped_column(Float)
    # Transdermal fentanyl is dosed as a rate: CDC's factor applies to mcg/h, not mg.
    dose_mcg_per_hour: Mapped[float | None] = mapped_column(Float)
    started_on: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    patient: Mapped[Patient] = relationship(back_populates="medications")


class Authorization(Model):
    """A payer's authorization for a number of sessions within dates."""

    __tablename__ = "authorizations"
    __table_args__ = (
        CheckConstraint("sessions_authorized >= 0", name="sessions_nonnegative"),
        CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from", name="valid_range"
        ),
        one_of("status", AuthorizationStatus, name="status"),
        # The billing worklist: those waiting on the payer, oldest first, and the
        # approved ones about to lapse (migration 0019).
        Index("ix_authorizations_status_created", "status", "created_at"),
        Index("ix_authorizations_valid_to", "valid_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    payer: Mapped[str] = mapped_column(String(120))
    member_id: Mapped[str | None] = mapped_column(String(60))
    payer_id: Mapped[str | None] = mapped_column(String(80))  # the payer's electronic id
    number: Mapped[str | None] = mapped_column(String(60))
    sessions_authorized: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=AuthorizationStatus.DRAFT)
    requested_on: Mapped[date | None] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    patient: Mapped[Patient] = relationship(back_populates="authorizations")

    @property
    def approved(self) -> bool:
        return self.status == AuthorizationStatus.APPROVED


class ConsentEvent(Model):
    """Each time a consent to be contacted is given or withdrawn, and by whom."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(40), default="staff")  # staff, sms_stop, import


class Screening(Model):
    """One TMS safety screening. Never overwritten: a new answer set is a new version."""

    __tablename__ = "screenings"
    __table_args__ = (
        UniqueConstraint("patient_id", "version"),
        one_of("result", ScreeningResult, name="result"),
        # The inbox's screenings awaiting a clinician's sign-off, oldest first.
        Index("ix_screenings_awaiting", "result", "signed_off_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[str] = mapped_column(String(20))
    positive_items: Mapped[list[str]] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_off_at: Mapped[datetime | None]
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sign_off_note: Mapped[str | None] = mapped_column(Text)
    # Set when a current medication changes: the screening should be repeated (DOMAIN:
    # "repeated when implants or medication change"); a new version supersedes it.
    repeat_requested_at: Mapped[datetime | None]
    repeat_reason: Mapped[str | None] = mapped_column(String(200))

    patient: Mapped[Patient] = relationship(back_populates="screenings")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    signed_off_by: Mapped[User | None] = relationship(foreign_keys=[signed_off_by_id])

    @property
    def cleared_for_treatment(self) -> bool:
        """Clear, or `review` that a clinician has signed off."""
        return self.result == ScreeningResult.CLEAR or (
            self.result == ScreeningResult.REVIEW and self.signed_off_at is not None
        )

"""Motor thresholds, treatment logs, their amendments, and pending MT re-checks.

A log is written once per appointment (unique key) and frozen by its signature; every
later correction is an `TreatmentAmendment` row, so the record shows who changed what.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.auth.models import User
from clinic.courses.models import Course
from clinic.db import one_of
from clinic.extensions import Model
from clinic.patients.models import Patient
from clinic.scheduling.models import Appointment


class ThresholdMethod(StrEnum):
    """How a motor threshold was found: a visible thumb twitch, or EMG."""

    VISUAL = "visual"
    EMG = "emg"


SIDE_EFFECTS = (
    "headache",
    "scalp_discomfort",
    "facial_twitching",
    "dizziness",
    "nausea",
    "tinnitus",
    "syncope",
    "other",
)


class CoilTargetMethod(StrEnum):
    """How the coil's scalp target was found: the Beam F3 head measurements, the 5.5 cm
    rule (anterior to the motor hotspot), neuronavigation to MNI coordinates, or other."""

    BEAM_F3 = "beam_f3"
    RULE_5_5_CM = "5_5cm_rule"
    NEURONAVIGATION = "neuronavigation"
    OTHER = "other"


class AdverseEventType(StrEnum):
    SEIZURE = "seizure"
    SYNCOPE = "syncope"
    MANIA = "mania"
    HEARING_LOSS = "hearing_loss"
    OTHER = "other"


class AdverseEventSeverity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    SERIOUS = "serious"


class MotorThreshold(Model):
    """One measurement of the resting motor threshold, in % of the device's output."""

    __tablename__ = "motor_thresholds"
    __table_args__ = (
        CheckConstraint("value_pct BETWEEN 1 AND 100", name="value_range"),
        one_of("method", ThresholdMethod, name="method"),
        Index("ix_motor_thresholds_course_measured", "course_id", "measured_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    value_pct: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(10))
    coil_location: Mapped[str | None] = mapped_column(String(200))
    measured_at: Mapped[datetime]
    measured_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    course: Mapped[Course] = relationship()
    measured_by: Mapped[User | None] = relationship()


class MotorThresholdRecheck(Model):
    """A re-measurement the chart asks for (e.g. after a medication change).

    It is satisfied by any motor threshold of the course measured at or after
    `requested_at`, so nothing has to be updated when the MT is entered.
    """

    __tablename__ = "motor_threshold_rechecks"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    requested_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TreatmentLog(Model):
    """What was delivered at one appointment (or why it stopped early)."""

    __tablename__ = "treatment_logs"
    __table_args__ = (
        CheckConstraint("intensity_pct_mt > 0", name="intensity_positive"),
        CheckConstraint("pulses_delivered >= 0", name="pulses_nonnegative"),
        CheckConstraint(
            "comfort_score IS NULL OR comfort_score BETWEEN 0 AND 10", name="comfort_range"
        ),
        CheckConstraint("completed OR stop_reason IS NOT NULL", name="incomplete_has_reason"),
        CheckConstraint(
            "reviewed_at IS NULL OR signed_at IS NOT NULL", name="reviewed_after_signed"
        ),
        Index("ix_treatment_logs_course_id", "course_id"),
        Index("ix_treatment_logs_review", "reviewed_at", "signed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # One log per appointment, enforced by the database against concurrent submissions.
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    motor_threshold_id: Mapped[int | None] = mapped_column(ForeignKey("motor_thresholds.id"))
    # Snapshot of the MT used, so the dose stays explainable if records are added later.
    motor_threshold_pct: Mapped[int | None] = mapped_column(Integer)
    intensity_pct_mt: Mapped[int] = mapped_column(Integer)
    dose_pct_output: Mapped[float | None] = mapped_column(Float)
    pulses_delivered: Mapped[int] = mapped_column(Integer)
    completed: Mapped[bool] = mapped_column(Boolean)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    coil_location: Mapped[str | None] = mapped_column(String(200))
    side_effects: Mapped[list[str]] = mapped_column(JSON, default=list)
    comfort_score: Mapped[int | None] = mapped_column(Integer)
    # The physician on duty who supervised the session (Medicare); None only on old logs.
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The session's number in the course and the %MT prescribed for it (the titration's
    # step, else the course's), as they were when the session was logged.
    session_number: Mapped[int | None] = mapped_column(Integer)
    prescribed_pct_mt: Mapped[int | None] = mapped_column(Integer)
    adverse_event_type: Mapped[str | None] = mapped_column(String(20))
    adverse_event_severity: Mapped[str | None] = mapped_column(String(20))
    adverse_event_description: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    # Indexed for the log form's "physician on duty": today's latest log (migration 0019).
    logged_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Indexed: the logs still to sign are few among all ever written (migration 0019).
    signed_at: Mapped[datetime | None] = mapped_column(index=True)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    appointment: Mapped[Appointment] = relationship()
    course: Mapped[Course] = relationship()
    patient: Mapped[Patient] = relationship()
    motor_threshold: Mapped[MotorThreshold | None] = relationship()
    logged_by: Mapped[User | None] = relationship(foreign_keys=[logged_by_id])
    signed_by: Mapped[User | None] = relationship(foreign_keys=[signed_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    supervisor: Mapped[User | None] = relationship(foreign_keys=[supervisor_id])
    amendments: Mapped[list[TreatmentAmendment]] = relationship(
        back_populates="treatment", order_by="TreatmentAmendment.id"
    )

    @property
    def status(self) -> str:
        if self.reviewed_at is not None:
            return "reviewed"
        return "signed" if self.signed_at is not None else "unsigned"

    @property
    def below_prescribed(self) -> bool:
        """Delivered below the dose prescribed for this session (allowed, and shown)."""
        return self.prescribed_pct_mt is not None and self.intensity_pct_mt < self.prescribed_pct_mt

    @property
    def adverse_event(self) -> dict[str, Any] | None:
        if self.adverse_event_type is None:
            return None
        return {
            "type": self.adverse_event_type,
            "severity": self.adverse_event_severity,
            "description": self.adverse_event_description,
        }


class CoilTarget(Model):
    """Where the coil goes on this course's patient, as data: the method and its
    measurements (centimetres, or MNI millimetres), set once per course and shown on
    each log form and on the record."""

    __tablename__ = "coil_targets"
    __table_args__ = (one_of("method", CoilTargetMethod, name="method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), unique=True)
    method: Mapped[str] = mapped_column(String(20))
    measurements: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    description: Mapped[str | None] = mapped_column(Text)
    set_at: Mapped[datetime] = mapped_column(default=clock.now)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    set_by: Mapped[User | None] = relationship()


class TreatmentAmendment(Model):
    """One change to a log after it was written: who, when, old and new value, and why."""

    __tablename__ = "treatment_amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatment_logs.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    treatment: Mapped[TreatmentLog] = relationship(back_populates="amendments")
    actor: Mapped[User | None] = relationship()

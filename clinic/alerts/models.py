"""Alerts: something a person must look at (item 9, adverse events, authorizations, failures)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.db import one_of
from clinic.extensions import Model

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.patients.models import Patient


class AlertKind(StrEnum):
    SUICIDAL_IDEATION = "suicidal_ideation"
    ADVERSE_EVENT = "adverse_event"
    AUTHORIZATION = "authorization"
    MOTOR_THRESHOLD_DUE = "motor_threshold_due"
    REMINDER_FAILED = "reminder_failed"
    SCREENING_REVIEW = "screening_review"
    MAKEUP_UNPLACED = "makeup_unplaced"
    OTHER = "other"


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class Alert(Model):
    __tablename__ = "alerts"
    __table_args__ = (
        one_of("status", AlertStatus, name="status"),
        one_of("severity", AlertSeverity, name="severity"),
        Index("ix_alerts_status_created", "status", "created_at"),
        # One open alert per (kind, dedupe_key): a daily check never piles up duplicates.
        Index(
            "uq_alerts_open_dedupe",
            "kind",
            "dedupe_key",
            unique=True,
            postgresql_where=text("status = 'open' AND dedupe_key IS NOT NULL"),
            sqlite_where=text("status = 'open' AND dedupe_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10), default=AlertSeverity.WARNING)
    audience: Mapped[str] = mapped_column(String(20), default="clinician")
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.OPEN)
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    # The clinician it is addressed to first (e.g. the prescriber); every clinician sees it.
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    escalated_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    assigned_to: Mapped[User | None] = relationship("User", foreign_keys=[assigned_to_id])
    acknowledged_by: Mapped[User | None] = relationship("User", foreign_keys=[acknowledged_by_id])
    patient: Mapped[Patient | None] = relationship("Patient")

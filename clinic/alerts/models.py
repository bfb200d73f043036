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


class RiskResult(StrEnum):
    """The outcome of the clinician's ASQ screen that closes a suicidal-ideation alert (NIMH):
    all four questions no; a yes without thoughts of suicide right now; or acute risk."""

    NEGATIVE = "negative"
    NON_ACUTE_POSITIVE = "non_acute_positive"
    ACUTE_POSITIVE = "acute_positive"


# A positive screen flags the patient on the technicians' pages until a clinician clears it.
POSITIVE_RISK = (RiskResult.NON_ACUTE_POSITIVE, RiskResult.ACUTE_POSITIVE)
# The alerts whose positive ASQ still flags the patient, as their partial index names
# them: a query uses the index only when its WHERE holds this very term (see
# `reminders.models.OPEN_ROWS`). Few at any time, among every alert ever raised.
FLAGGED = (
    f"kind = '{AlertKind.SUICIDAL_IDEATION}' AND flag_cleared_at IS NULL"
    f" AND risk_result IN ('{POSITIVE_RISK[0]}', '{POSITIVE_RISK[1]}')"
)


class Alert(Model):
    __tablename__ = "alerts"
    __table_args__ = (
        one_of("status", AlertStatus, name="status"),
        one_of("severity", AlertSeverity, name="severity"),
        one_of("risk_result", RiskResult, name="risk_result"),
        Index("ix_alerts_status_created", "status", "created_at"),
        Index(
            "ix_alerts_flagged",
            "created_at",
            postgresql_where=text(FLAGGED),
            sqlite_where=text(FLAGGED),
        ),
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
    # The ASQ screen recorded with the acknowledgement of a suicidal-ideation alert.
    risk_result: Mapped[str | None] = mapped_column(String(20))
    risk_screen: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When a clinician cleared the patient's flag a positive screen raised (or resumed the
    # course an acute positive had put on hold).
    flag_cleared_at: Mapped[datetime | None]
    flag_cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    flag_clear_note: Mapped[str | None] = mapped_column(Text)

    assigned_to: Mapped[User | None] = relationship("User", foreign_keys=[assigned_to_id])
    acknowledged_by: Mapped[User | None] = relationship("User", foreign_keys=[acknowledged_by_id])
    flag_cleared_by: Mapped[User | None] = relationship("User", foreign_keys=[flag_cleared_by_id])
    patient: Mapped[Patient | None] = relationship("Patient")

    @property
    def risk_flag(self) -> bool:
        """Whether the patient is flagged on the technicians' pages because of this alert:
        item 9 not yet screened by a clinician, or a positive screen not yet cleared."""
        if self.kind != AlertKind.SUICIDAL_IDEATION or self.flag_cleared_at is not None:
            return False
        return self.status == AlertStatus.OPEN or self.risk_result in POSITIVE_RISK

"""Questionnaire responses, single-use patient links and the cadence's assignments."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.auth.models import User
from clinic.courses.models import Course
from clinic.db import one_of
from clinic.extensions import Model
from clinic.patients.models import Patient


class ResponseSource(StrEnum):
    """How an answer reached us: the patient's link, the clinic's tablet, or staff entry."""

    LINK = "link"
    TABLET = "tablet"
    STAFF = "staff"


class AssignmentStatus(StrEnum):
    DUE = "due"
    COMPLETED = "completed"
    EXPIRED = "expired"


class QuestionnaireLink(Model):
    """A single-use invitation: only the SHA-256 of its token is stored."""

    __tablename__ = "questionnaire_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    instrument: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    # Set by the one submission that wins the guarded UPDATE ... WHERE used_at IS NULL.
    used_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    patient: Mapped[Patient] = relationship()


class QuestionnaireAssignment(Model):
    """One questionnaire the cadence asks of a course (baseline, session_5, end, followup_1m)."""

    __tablename__ = "questionnaire_assignments"
    __table_args__ = (
        UniqueConstraint("course_id", "instrument", "reason"),
        one_of("status", AssignmentStatus, name="status"),
        Index("ix_questionnaire_assignments_status_due_on", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    instrument: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(20))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=AssignmentStatus.DUE)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_links.id"))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_responses.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    completed_at: Mapped[datetime | None]

    course: Mapped[Course] = relationship()


class QuestionnaireResponse(Model):
    """One completed questionnaire, scored when recorded (score, severity and flags kept)."""

    __tablename__ = "questionnaire_responses"
    __table_args__ = (
        one_of("source", ResponseSource, name="source"),
        Index("ix_questionnaire_responses_patient_answered", "patient_id", "answered_at"),
        Index(
            "ix_questionnaire_responses_course_instrument",
            "course_id",
            "instrument",
            "administered_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    instrument: Mapped[str] = mapped_column(String(20))
    answers: Mapped[list[int]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    severity: Mapped[str | None] = mapped_column(String(40))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(10))
    # When it was entered (typed, or submitted from a link or the tablet).
    answered_at: Mapped[datetime] = mapped_column(default=clock.now)
    # When the patient answered: a paper form entered later keeps the day it was filled in.
    # Every outcome rule (baseline, end of course, follow-ups) reads this one.
    administered_at: Mapped[datetime] = mapped_column(default=clock.now)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_links.id"))

    entered_by: Mapped[User | None] = relationship()

    @property
    def display_score(self) -> Any:
        """Whole-number instruments show 12, not 12.0."""
        return int(self.score) if float(self.score).is_integer() else self.score

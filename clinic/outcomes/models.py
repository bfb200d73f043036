"""Questionnaire responses, single-use patient links and the cadence's assignments."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
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
    # A submitted link completes its assignments, found by the link (migration 0019).
    link_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_links.id"), index=True)
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
    # Indexed for the outcomes export, which reads a range of it (migration 0019).
    answered_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
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


class CourseOutcome(Model):
    """A treated course's result as the clinic report counts it, kept so the report adds
    up rows in SQL instead of judging every course of years of history at each request.

    A cache with one owner (`clinic.outcomes.results`): any flush that touches what it was
    judged from (the course's delivered sessions and answers, its patient's medications, a
    chair's site) marks it `stale`, and the report judges the stale ones again before it
    reads. `basis` names the rules and time zone it was judged under; a row judged under
    others counts as stale too. What a page shows live (the course's status and protocol)
    is not kept here but joined."""

    __tablename__ = "course_outcomes"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    stale: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    basis: Mapped[str | None] = mapped_column(String(16), index=True)
    # The cohort: the first delivered session's start, and the clinic quarter it fell in.
    first_delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    quarter: Mapped[str | None] = mapped_column(String(7))
    # PHQ-9: None where it could not be judged (no baseline or no end score).
    mood_response: Mapped[bool | None] = mapped_column(Boolean)
    mood_remission: Mapped[bool | None] = mapped_column(Boolean)
    # PEG-3: the baseline (its band stratifies the report) and the improvement reached.
    pain_baseline: Mapped[float | None] = mapped_column(Float)
    pain_band: Mapped[str | None] = mapped_column(String(20))
    pain_improvement: Mapped[str | None] = mapped_column(String(20))
    # Averaged figures in whole tenths, so SQL sums them exactly: the PROMIS sleep
    # T-scores, and the opioid (MME) and benzodiazepine (diazepam mg) loads a day on the
    # first and last delivered days.
    sleep_baseline_tenths: Mapped[int | None] = mapped_column(Integer)
    sleep_end_tenths: Mapped[int | None] = mapped_column(Integer)
    opioid_start_tenths: Mapped[int] = mapped_column(Integer, default=0)
    opioid_end_tenths: Mapped[int] = mapped_column(Integer, default=0)
    benzodiazepine_start_tenths: Mapped[int] = mapped_column(Integer, default=0)
    benzodiazepine_end_tenths: Mapped[int] = mapped_column(Integer, default=0)


class CourseOutcomeSite(Model):
    """A site on whose chairs a kept course (`CourseOutcome`) had a session delivered."""

    __tablename__ = "course_outcome_sites"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course_outcomes.course_id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True
    )

"""Protocols (stimulation presets and clinic-defined ones) and prescribed courses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.auth.models import User
from clinic.db import one_of
from clinic.extensions import Model
from clinic.patients.models import Authorization, Patient


class CourseStatus(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    DISCONTINUED = "discontinued"


class SchedulePattern(StrEnum):
    """How a protocol spreads its sessions (expanded by `clinic.scheduling.patterns`)."""

    DAILY_TAPER = "daily_taper"
    ACCELERATED = "accelerated"
    DAILY_THEN_WEEKLY = "daily_then_weekly"


class CourseKind(StrEnum):
    """Why a course is given (DOMAIN.md): a first course, more of one that helped partly,
    a new course after a relapse, or sessions that keep a response."""

    ACUTE = "acute"
    EXTENSION = "extension"
    RETREATMENT = "retreatment"
    MAINTENANCE = "maintenance"


# Kinds that continue an earlier course, which they must name.
CONTINUING_KINDS = (CourseKind.EXTENSION, CourseKind.RETREATMENT)

# A course in one of these has ended: it books nothing more.
FINAL_STATUSES = (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED)


class Protocol(Model):
    __tablename__ = "protocols"
    __table_args__ = (
        one_of("pattern", SchedulePattern, name="pattern"),
        CheckConstraint(
            "trains > 0 AND pulses_per_train > 0 AND train_seconds > 0", name="positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    indication: Mapped[str] = mapped_column(String(120))
    target: Mapped[str] = mapped_column(String(120))
    frequency_hz: Mapped[float] = mapped_column(Float)
    frequency_note: Mapped[str | None] = mapped_column(String(120))  # "50 Hz bursts of 3 at 5 Hz"
    pulses_per_train: Mapped[int] = mapped_column(Integer)
    train_seconds: Mapped[float] = mapped_column(Float)
    inter_train_seconds: Mapped[float] = mapped_column(Float)
    trains: Mapped[int] = mapped_column(Integer)
    intensity_pct_mt: Mapped[int] = mapped_column(Integer)
    default_sessions: Mapped[int] = mapped_column(Integer)
    pattern: Mapped[str] = mapped_column(String(20))
    sessions_per_day: Mapped[int] = mapped_column(Integer, default=1)
    min_gap_minutes: Mapped[int] = mapped_column(Integer, default=0)
    setup_buffer_minutes: Mapped[int] = mapped_column(Integer, default=10)
    reference: Mapped[str | None] = mapped_column(String(200))
    is_preset: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def total_pulses(self) -> int:
        return self.trains * self.pulses_per_train

    @property
    def session_seconds(self) -> float:
        return self.trains * self.train_seconds + (self.trains - 1) * self.inter_train_seconds

    @property
    def slot_minutes(self) -> int:
        """Chair time booked per session: stimulation rounded up plus the set-up buffer."""
        return -(-int(self.session_seconds) // 60) + self.setup_buffer_minutes


class Course(Model):
    __tablename__ = "courses"
    __table_args__ = (
        one_of("status", CourseStatus, name="status"),
        CheckConstraint("planned_sessions > 0", name="planned_positive"),
        one_of("kind", CourseKind, name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id"))
    # Indexed: the inbox and the billing worklist read the active courses (migration 0019).
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None]
    planned_sessions: Mapped[int] = mapped_column(Integer)
    prescribed_pct_mt: Mapped[int] = mapped_column(Integer)
    # Why the prescribed intensity is above the protocol's (required only then).
    pct_mt_reason: Mapped[str | None] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(String(120))
    # Dose titration: [{"session": 1, "pct_mt": 100}, ...], each step holding from its
    # session on, the last at the prescribed %MT (clinic.courses.titration); None: none.
    titration: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    prescriber_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Indexed: an authorization's meter counts its courses' sessions on the board, the
    # chart and at every booking (migration 0019).
    authorization_id: Mapped[int | None] = mapped_column(
        ForeignKey("authorizations.id"), index=True
    )
    # Why this course may start without a signed TMS consent (a clinician's decision).
    consent_waiver_reason: Mapped[str | None] = mapped_column(Text)
    consent_waived_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    consent_waived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    kind: Mapped[str] = mapped_column(String(20), default=CourseKind.ACUTE)
    # Indexed: a course's page asks whether a later course follows it (migration 0019).
    previous_course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    # The course's own pattern ({"daily", "taper", "weekly"}, CONTRACT 7), overriding the
    # protocol's; None follows the protocol. Expanded by clinic.scheduling.patterns.
    pattern: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    patient: Mapped[Patient] = relationship()
    protocol: Mapped[Protocol] = relationship()
    prescriber: Mapped[User | None] = relationship(foreign_keys=[prescriber_id])
    authorization: Mapped[Authorization | None] = relationship()
    previous_course: Mapped[Course | None] = relationship(remote_side=[id])

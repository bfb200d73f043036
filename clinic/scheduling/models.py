"""Devices (chairs), the clinic calendar, and appointments.

Double booking is refused by the database itself: on PostgreSQL by exclusion
constraints per device and per patient (migration 0001) and per technician (0009) over
live appointments; on
SQLite by serialised writes (BEGIN IMMEDIATE) around the service's check-then-insert.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    and_,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.auth.models import User
from clinic.db import one_of
from clinic.extensions import Model
from clinic.patients.models import Patient

if TYPE_CHECKING:
    # Scheduling sits below courses: the relationship names its target by string.
    from clinic.courses.models import Course


class AppointmentStatus(StrEnum):
    """Where an appointment is in its life; only `clinic.scheduling.lifecycle` changes it."""

    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    # A treatment log with completed=true exists: the session counts as delivered.
    COMPLETED = "completed"
    # Started but stopped early: logged, not delivered, made up.
    INCOMPLETE = "incomplete"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class AppointmentKind(StrEnum):
    TREATMENT = "treatment"  # a session of the course
    MAPPING = "mapping"  # a motor-threshold / coil-mapping visit: not a session


# courses.models.CourseStatus.ACTIVE, the one course status scheduling asks about:
# courses sit above scheduling, which cannot import their enum.
ACTIVE_COURSE = "active"

# Appointments that occupy a chair and a patient's time (the exclusion constraints' WHERE).
LIVE_STATUSES = (
    AppointmentStatus.SCHEDULED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.INCOMPLETE,
)

# No session lasts longer (protocols take minutes): a read of what overlaps a span
# starts this far before it, so an index led by the start (or by a chair, a patient or
# a technician, then the start) reads a range and not all the history before it.
LONGEST_APPOINTMENT = timedelta(hours=24)


class Site(Model):
    """One clinic of a group: its own time zone, public holidays, hours, closures, chairs.

    `holidays` is a code of the `holidays` library (`US`, `US-CA`, `GB-SCT`) or `none`;
    those public holidays are closures unless an admin opens the site on one."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    holidays: Mapped[str] = mapped_column(String(20), default="none")


class UserSite(Model):
    """A staff member limited to some sites (no row at all: every site)."""

    __tablename__ = "user_sites"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True, index=True)


# A column default: the first site, which a single clinic never has to name.
FIRST_SITE = select(func.min(Site.id)).scalar_subquery()


class Device(Model):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True, default=FIRST_SITE)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    model: Mapped[str | None] = mapped_column(String(120))
    room: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    site: Mapped[Site] = relationship()


class MaintenanceWindow(Model):
    __tablename__ = "maintenance_windows"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(200))

    device: Mapped[Device] = relationship()


class OpeningHours(Model):
    """A site's opening hours per weekday (0 = Monday); no row: closed that weekday."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("closes_at > opens_at", name="ordered"),
    )

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id"), primary_key=True, default=FIRST_SITE
    )
    weekday: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    opens_at: Mapped[time] = mapped_column(Time)
    closes_at: Mapped[time] = mapped_column(Time)


class TechnicianHours(Model):
    """When a technician works, per weekday (0 = Monday). A technician with no rows at all
    has no hours set and is never refused for them; with some, a missing weekday is off."""

    __tablename__ = "technician_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("ends_at > starts_at", name="ordered"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    weekday: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    starts_at: Mapped[time] = mapped_column(Time)
    ends_at: Mapped[time] = mapped_column(Time)


class ClosureSource(StrEnum):
    MANUAL = "manual"  # an admin closed the site that day
    HOLIDAY = "holiday"  # a public holiday of the site's `holidays` code (computed, not stored)


class Closure(Model):
    """A day a site is closed, typed by an admin; or, with `opens`, a public holiday on
    which an admin opened the site anyway (the override row)."""

    __tablename__ = "closures"
    __table_args__ = (UniqueConstraint("site_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), default=FIRST_SITE)
    date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")
    opens: Mapped[bool] = mapped_column(Boolean, default=False)


class Appointment(Model):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ordered"),
        one_of("status", AppointmentStatus, name="status"),
        one_of("kind", AppointmentKind, name="kind"),
        Index("ix_appointments_starts_at", "starts_at"),
        Index("ix_appointments_device_starts", "device_id", "starts_at"),
        Index("ix_appointments_patient_starts", "patient_id", "starts_at"),
        Index("ix_appointments_course_sequence", "course_id", "sequence"),
        # "Session n of N" on the board counts a course's earlier sessions: one index
        # range per row, whatever the planner's statistics say (without them PostgreSQL
        # walked the chairs' exclusion index instead, ~79,000 entries a row).
        Index("ix_appointments_course_starts", "course_id", "starts_at"),
        # A technician's overlapping session (at every check-in) and their calendar feed:
        # a range of their sessions by start, not their whole history.
        Index("ix_appointments_technician_starts", "technician_id", "starts_at"),
        # A range's sessions by status and kind from the index alone. Built for the
        # outcome report's cohort, which now reads kept results (`course_outcomes`);
        # whether another range query leans on it is to be measured before it goes.
        # Led by the start: led by the status, SQLite used it for the chairs' busy time.
        Index(
            "ix_appointments_starts_status_kind_course", "starts_at", "status", "kind", "course_id"
        ),
        Index(
            "ix_appointments_course_delivered",
            "course_id",
            "status",
            "kind",
            "starts_at",
            "delivered_at",
            "ends_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    # Denormalised from the course so the database can refuse a patient's overlaps.
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20), default=AppointmentKind.TREATMENT)
    status: Mapped[str] = mapped_column(String(20), default=AppointmentStatus.SCHEDULED)
    sequence: Mapped[int] = mapped_column(Integer)
    is_makeup: Mapped[bool] = mapped_column(Boolean, default=False)
    makeup_for_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    checked_in_at: Mapped[datetime | None]
    # When its treatment log said it was delivered: a questionnaire answered before this
    # (at check-in, after the scheduled start) still precedes the treatment.
    delivered_at: Mapped[datetime | None]
    # Grows on every move: calendar invitations (.ics SEQUENCE) replace the old entry.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    course: Mapped[Course] = relationship("Course")
    patient: Mapped[Patient] = relationship()
    device: Mapped[Device] = relationship()
    technician: Mapped[User | None] = relationship()

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


def overlaps(starts_at: datetime, ends_at: datetime) -> ColumnElement[bool]:
    """SQL: the appointment overlaps [starts_at, ends_at), its start bounded both ways."""
    return and_(
        Appointment.starts_at > starts_at - LONGEST_APPOINTMENT,
        Appointment.starts_at < ends_at,
        Appointment.ends_at > starts_at,
    )

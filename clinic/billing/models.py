"""Billing tables: the per-payer fee schedule and the record of what was exported."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.db import one_of
from clinic.extensions import Model

ANY_PAYER = "*"
"""The fee-schedule row that prices a code for every payer without its own row."""


class Cpt(StrEnum):
    """The TMS codes (CPT, per CTMSS guidance)."""

    FIRST_TREATMENT = "90867"  # includes mapping and the motor threshold
    LATER_TREATMENT = "90868"
    MT_REDETERMINATION = "90869"


class ExportFormat(StrEnum):
    X12 = "x12"
    CSV = "csv"


class FeeScheduleEntry(Model):
    """What the clinic charges one payer for one CPT code (per unit)."""

    __tablename__ = "fee_schedule"
    __table_args__ = (
        UniqueConstraint("payer", "cpt"),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payer: Mapped[str] = mapped_column(String(120))
    cpt: Mapped[str] = mapped_column(String(5))
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class ClaimExport(Model):
    """One export run (837P or CSV): who took which period's lines, when."""

    __tablename__ = "claim_exports"
    __table_args__ = (one_of("format", ExportFormat, name="format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[str] = mapped_column(String(10))
    payer: Mapped[str | None] = mapped_column(String(120))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    line_count: Mapped[int] = mapped_column(Integer)
    control_number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ExportedLine(Model):
    """A session already sent on a claim: the next export leaves it out unless asked.
    One row per appointment (its first export), so a line is never marked twice."""

    __tablename__ = "exported_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), unique=True)
    export_id: Mapped[int] = mapped_column(ForeignKey("claim_exports.id"), index=True)

    export: Mapped[ClaimExport] = relationship()

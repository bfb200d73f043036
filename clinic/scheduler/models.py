"""The scheduler's own tables: one heartbeat row per job, one per running process."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinic.extensions import Model


class SchedulerHeartbeat(Model):
    """The last tick of each scheduler job, and which process ran it."""

    __tablename__ = "scheduler_heartbeats"

    job_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_tick_at: Mapped[datetime]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)


class SchedulerProcess(Model):
    """One running scheduler process and its last tick: how many schedulers live is the
    number of rows that ticked lately. A process is its host, pid and start (a pid is
    reused after a restart); rows of processes long gone are pruned."""

    __tablename__ = "scheduler_processes"
    __table_args__ = (
        UniqueConstraint("host", "pid", "started_at"),
        Index("ix_scheduler_processes_last_tick_at", "last_tick_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    last_tick_at: Mapped[datetime]

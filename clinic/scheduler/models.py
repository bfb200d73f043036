"""The scheduler's own table: one heartbeat row per job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
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

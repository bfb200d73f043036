"""The scheduler's heartbeat: each tick upserts its job's row, so /api/v1/health and the
admin page can tell whether a scheduler process is running against this database."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from clinic import clock
from clinic.extensions import db
from clinic.scheduler.models import SchedulerHeartbeat

HEARTBEAT_STALE_AFTER = timedelta(minutes=3)


def record_heartbeat(
    job_id: str,
    *,
    at: datetime,
    success: bool,
    duration_ms: int,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Upsert the job's heartbeat (any number of scheduler processes may write it)."""
    values = {
        "job_id": job_id,
        "last_tick_at": at,
        "duration_ms": duration_ms,
        "host": socket.gethostname()[:120],
        "pid": os.getpid(),
        "last_error": error,
        "last_result": result,
    }
    if success:
        values["last_success_at"] = at
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SchedulerHeartbeat).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["job_id"], set_={k: v for k, v in values.items() if k != "job_id"}
    )
    db.session.execute(statement)


def heartbeats() -> Sequence[SchedulerHeartbeat]:
    """Every job's heartbeat, by job id (for the admin page)."""
    return db.session.scalars(select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.job_id)).all()


def scheduler_status(now: datetime) -> dict[str, Any]:
    """For /api/v1/health and the admin page: the last tick, and whether it is recent."""
    beats = heartbeats()
    if not beats:
        return {"status": "not_running", "last_tick_at": None, "jobs": {}}
    last = max(beat.last_tick_at for beat in beats)
    return {
        "status": "ok" if now - last <= HEARTBEAT_STALE_AFTER else "stale",
        "last_tick_at": last.isoformat(),
        "jobs": {
            beat.job_id: {
                "last_tick_at": beat.last_tick_at.isoformat(),
                "last_success_at": beat.last_success_at.isoformat()
                if beat.last_success_at
                else None,
                "last_error": beat.last_error,
                "host": beat.host,
                "pid": beat.pid,
            }
            for beat in beats
        },
    }


def health_extra() -> dict[str, Any]:
    """The `scheduler` part of /api/v1/health."""
    return {"scheduler": scheduler_status(clock.now())}

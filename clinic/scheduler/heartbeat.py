"""The scheduler's heartbeat, so /api/v1/health and the admin page can tell whether (and
how many) scheduler processes are running against this database.

Two records: each job's last tick (its row upserted by whichever process ran it), and
each process's last tick (one row per process, touched by every job it runs and at
least once a HEARTBEAT_INTERVAL by the `heartbeat` job). A process is live when it
ticked within two intervals; rows of processes gone for PRUNE_AFTER are deleted.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select

from clinic import clock
from clinic.db import upsert_insert
from clinic.extensions import db
from clinic.scheduler.models import SchedulerHeartbeat, SchedulerProcess

HEARTBEAT_INTERVAL = timedelta(minutes=1)
LIVE_WITHIN = 2 * HEARTBEAT_INTERVAL
PRUNE_AFTER = timedelta(hours=1)

_identity: tuple[int, datetime] | None = None


def _host() -> str:
    return socket.gethostname()[:120]


def _this_process() -> tuple[int, datetime]:
    """(pid, when this process first ticked): a pid alone is reused after a restart."""
    global _identity
    if _identity is None or _identity[0] != os.getpid():
        _identity = (os.getpid(), clock.now())
    return _identity


def _upsert(
    model: Any, values: dict[str, Any], keys: list[str], *, latest: str | None = None
) -> None:
    """Insert the row or update it in place: any number of processes may write at once.
    The column `latest` only moves forward (a long job's tick, stamped when it began,
    may be written after a later one)."""
    statement = upsert_insert(db.session.get_bind().dialect, model).values(**values)
    changes: dict[str, Any] = {k: v for k, v in values.items() if k not in keys}
    if latest is not None:
        current, offered = getattr(model, latest), statement.excluded[latest]
        changes[latest] = case((current < offered, offered), else_=current)
    statement = statement.on_conflict_do_update(index_elements=keys, set_=changes)
    db.session.execute(statement)


def record_heartbeat(
    job_id: str,
    *,
    at: datetime,
    success: bool,
    duration_ms: int,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Upsert the job's heartbeat, and the tick of the process that ran it."""
    pid, _started_at = _this_process()
    values = {
        "job_id": job_id,
        "last_tick_at": at,
        "duration_ms": duration_ms,
        "host": _host(),
        "pid": pid,
        "last_error": error,
        "last_result": result,
    }
    if success:
        values["last_success_at"] = at
    _upsert(SchedulerHeartbeat, values, ["job_id"])
    record_process_tick(at)


def record_process_tick(at: datetime) -> None:
    """This process is alive at `at`."""
    pid, started_at = _this_process()
    _upsert(
        SchedulerProcess,
        {"host": _host(), "pid": pid, "started_at": started_at, "last_tick_at": at},
        ["host", "pid", "started_at"],
        latest="last_tick_at",
    )


def prune_processes(now: datetime) -> dict[str, int]:
    """The `heartbeat` job: delete the rows of processes gone for PRUNE_AFTER (the
    tick that runs it is this process's own heartbeat)."""
    pruned = db.session.execute(
        delete(SchedulerProcess).where(SchedulerProcess.last_tick_at < now - PRUNE_AFTER)
    )
    return {"pruned": int(getattr(pruned, "rowcount", 0) or 0)}


def forget_this_process() -> None:
    """A scheduler stopping cleanly leaves no row to wait out."""
    pid, started_at = _this_process()
    db.session.execute(
        delete(SchedulerProcess).where(
            SchedulerProcess.host == _host(),
            SchedulerProcess.pid == pid,
            SchedulerProcess.started_at == started_at,
        )
    )


def heartbeats() -> Sequence[SchedulerHeartbeat]:
    """Every job's heartbeat, by job id (for the admin page)."""
    return db.session.scalars(select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.job_id)).all()


def processes() -> Sequence[SchedulerProcess]:
    """Every scheduler process not yet pruned, the latest tick first."""
    return db.session.scalars(
        select(SchedulerProcess).order_by(SchedulerProcess.last_tick_at.desc())
    ).all()


def is_live(process: SchedulerProcess, now: datetime) -> bool:
    return now - process.last_tick_at <= LIVE_WITHIN


def scheduler_status(now: datetime) -> dict[str, Any]:
    """For /api/v1/health and the admin page: `ok` while a process is live, `stale` when
    one ran once but none ticked within two intervals, else `not_running`; how many
    live, each process, and each job's last tick."""
    beats = heartbeats()
    found = processes()
    live = [process for process in found if is_live(process, now)]
    ticks = [beat.last_tick_at for beat in beats] + [process.last_tick_at for process in found]
    last = max(ticks, default=None)
    return {
        "status": "ok" if live else "stale" if last else "not_running",
        "live_processes": len(live),
        "last_tick_at": last.isoformat() if last else None,
        "processes": [
            {
                "host": process.host,
                "pid": process.pid,
                "started_at": process.started_at.isoformat(),
                "last_tick_at": process.last_tick_at.isoformat(),
                "live": is_live(process, now),
            }
            for process in found
        ],
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
    """The `scheduler` part of /api/v1/health; `degraded` while no scheduler lives."""
    status = scheduler_status(clock.now())
    return {"status": "ok" if status["live_processes"] else "degraded", "scheduler": status}

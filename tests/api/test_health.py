"""/api/v1/health: the database, and how many scheduler processes live.

One heartbeat row per scheduler process; a process is live when it ticked within two
intervals, `status` is `degraded` (still 200) while none is, and rows of processes long
gone are pruned by the heartbeat job.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import time_machine
from sqlalchemy import func, select

from clinic.extensions import db
from clinic.scheduler import heartbeat, runner
from clinic.scheduler.heartbeat import HEARTBEAT_INTERVAL, LIVE_WITHIN, PRUNE_AFTER
from clinic.scheduler.jobs import JOBS
from clinic.scheduler.models import SchedulerProcess

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _process(host: str, pid: int, last_tick_at: datetime) -> SchedulerProcess:
    row = SchedulerProcess(
        host=host, pid=pid, started_at=NOW - PRUNE_AFTER * 2, last_tick_at=last_tick_at
    )
    db.session.add(row)
    db.session.commit()
    return row


def test_without_any_scheduler_the_answer_is_degraded_but_200(client: Any) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json["status"] == "degraded"
    assert response.json["database"] == "ok"
    assert response.json["scheduler"]["status"] == "not_running"
    assert response.json["scheduler"]["live_processes"] == 0


def test_live_schedulers_are_counted_one_row_per_process(app: Any, client: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        _process("web-1", 101, NOW - HEARTBEAT_INTERVAL)
        _process("web-2", 202, NOW - LIVE_WITHIN)  # just within two intervals
        _process("web-2", 203, NOW - LIVE_WITHIN * 2)  # dead
        health = client.get("/api/v1/health").json
    assert health["status"] == "ok"
    assert health["scheduler"]["status"] == "ok"
    assert health["scheduler"]["live_processes"] == 2
    assert [(p["pid"], p["live"]) for p in health["scheduler"]["processes"]] == [
        (101, True),
        (202, True),
        (203, False),
    ]


def test_every_scheduler_dead_degrades_the_answer(app: Any, client: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        _process("web-1", 101, NOW - LIVE_WITHIN * 3)
        health = client.get("/api/v1/health").json
    assert health["status"] == "degraded"
    assert health["scheduler"]["status"] == "stale"
    assert health["scheduler"]["live_processes"] == 0


def test_a_tick_records_this_process_and_the_heartbeat_job_prunes_the_long_gone(
    app: Any, client: Any
) -> None:
    _process("gone", 1, datetime.now(UTC) - PRUNE_AFTER * 2)
    runner.run_job(app, "heartbeat", heartbeat.prune_processes)
    runner.run_job(app, "heartbeat", heartbeat.prune_processes)  # the same process again
    db.session.rollback()
    rows = db.session.scalars(select(SchedulerProcess)).all()
    assert [row.host for row in rows] != ["gone"] and len(rows) == 1
    assert client.get("/api/v1/health").json["scheduler"]["live_processes"] == 1
    heartbeat.forget_this_process()
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(SchedulerProcess)) == 0


def test_the_heartbeat_job_runs_every_interval() -> None:
    job = next(job for job in JOBS if job.id == "heartbeat")
    assert job.trigger == "interval" and job.trigger_args == {"minutes": 1}
    assert HEARTBEAT_INTERVAL.total_seconds() == 60


def test_a_process_tick_never_moves_back(app: Any) -> None:
    """A long job's heartbeat, stamped when it began, may be written after a later one."""
    heartbeat.record_heartbeat("quick", at=NOW, success=True, duration_ms=1)
    heartbeat.record_heartbeat(
        "long", at=NOW - HEARTBEAT_INTERVAL * 5, success=True, duration_ms=300_000
    )
    db.session.commit()
    (row,) = db.session.scalars(select(SchedulerProcess)).all()
    db.session.refresh(row)
    assert row.last_tick_at == NOW

"""The scheduler process: its job table, the tick wrapper, the heartbeat on /api/v1/health."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from clinic.extensions import db
from clinic.reminders.dispatch import dispatch_job
from clinic.scheduler import runner
from clinic.scheduler.heartbeat import record_heartbeat
from clinic.scheduler.jobs import JOBS, Job
from clinic.scheduler.models import SchedulerHeartbeat
from tests.reminders.conftest import MailServer, book, reachable_patient

TICKS: list[datetime] = []
NOON = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # noon in New York: outside quiet hours


def record_tick(now: datetime) -> dict[str, int]:
    TICKS.append(now)
    return {"ticks": len(TICKS)}


def broken_job(now: datetime) -> None:
    raise RuntimeError("the check failed")


def test_the_job_table_has_fixed_ids_coalesced_one_at_a_time(app: Any) -> None:
    ids = [job.id for job in JOBS]
    assert len(ids) == len(set(ids))
    assert {"dispatch_reminders", "plan_questionnaires", "escalate_alerts"} <= set(ids)
    assert {"check_authorizations", "check_motor_threshold_due", "daily_schedule"} <= set(ids)
    built = runner.build_scheduler(app, scheduler=BackgroundScheduler())
    jobs = {job.id: job for job in built.get_jobs()}
    assert set(jobs) == set(ids)
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time >= 60
    assert jobs["dispatch_reminders"].trigger.interval == timedelta(minutes=1)


def test_a_tick_runs_the_job_commits_and_writes_the_heartbeat(app: Any, client: Any) -> None:
    health = client.get("/api/v1/health").json
    assert health["scheduler"]["status"] == "not_running"
    runner.run_job(app, "tick", record_tick)
    runner.run_job(app, "broken", broken_job)
    db.session.rollback()  # the test's session still held the snapshot from before the ticks
    beats = {b.job_id: b for b in db.session.scalars(select(SchedulerHeartbeat))}
    assert beats["tick"].last_result == {"ticks": len(TICKS)} and beats["tick"].last_error is None
    assert beats["broken"].last_success_at is None
    assert "the check failed" in (beats["broken"].last_error or "")
    health = client.get("/api/v1/health").json
    assert health["status"] == "ok"
    assert health["scheduler"]["status"] == "ok"
    assert set(health["scheduler"]["jobs"]) == {"tick", "broken"}


def test_a_stale_heartbeat_shows_on_health(app: Any, client: Any) -> None:
    record_heartbeat(
        "tick", at=datetime.now(UTC) - timedelta(minutes=10), success=True, duration_ms=1
    )
    db.session.commit()
    assert client.get("/api/v1/health").json["scheduler"]["status"] == "stale"


def test_a_real_scheduler_ticks_our_own_job(app: Any) -> None:
    table = (Job("tick", record_tick, "interval", {"seconds": 1}),)
    running = runner.build_scheduler(app, table, scheduler=BackgroundScheduler())
    before = len(TICKS)
    running.start()
    try:
        deadline = time.monotonic() + 10
        while len(TICKS) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        running.shutdown(wait=True)
    assert len(TICKS) >= before + 2
    db.session.expire_all()
    assert db.session.get(SchedulerHeartbeat, "tick") is not None


def test_two_schedulers_dispatching_at_once_send_each_reminder_once(
    app: Any, mail_server: MailServer
) -> None:
    import threading

    with time_machine.travel(NOON, tick=False):
        for i in range(6):
            book(NOON + timedelta(hours=1, minutes=40 * i), reachable_patient(sms_ok=False))
        threads = [
            threading.Thread(target=runner.run_job, args=(app, "dispatch_reminders", dispatch_job))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    references = mail_server.references()
    assert len(references) == 6 and len(set(references)) == 6


def test_the_dispatch_command_prints_counts(runner: Any, mail_server: MailServer) -> None:
    with time_machine.travel(NOON, tick=False):
        book(NOON + timedelta(hours=1), reachable_patient(sms_ok=False))
        result = runner.invoke(args=["reminders", "dispatch"])
    assert result.exit_code == 0, result.output
    assert "sent=1" in result.output
    assert len(mail_server.messages) == 1

"""The scheduler process: `flask --app wsgi scheduler run`.

APScheduler 3 in its own process, never inside web workers (this module is imported
only by that command and by tests). It only ticks: every job of `clinic.scheduler.jobs`
runs in an app context and is committed; each tick writes the job's heartbeat row and
its process's (shown on /api/v1/health and the admin page `scheduler.admin`).

Several scheduler processes at once are harmless: dispatch claims outbox rows (a row is
sent by one dispatcher), and the periodic jobs are idempotent through dedupe keys (an
open alert per kind and subject, one daily schedule per user and day). Jobs have fixed
ids, coalesce missed runs into one, and never run twice at once within a process.
"""

from __future__ import annotations

import logging
import signal
import time as _time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from clinic import clock
from clinic.extensions import db
from clinic.scheduler.heartbeat import forget_this_process, record_heartbeat
from clinic.scheduler.jobs import JOBS, Job

log = logging.getLogger(__name__)


def run_job(app: Flask, job_id: str, func: Callable[[datetime], Any]) -> None:
    """One tick: call `func(now)` in an app context, commit, and record the job's and
    this process's heartbeat. A failing job is rolled back and logged; the heartbeat
    keeps its error."""
    with app.app_context():
        now = clock.now()
        started = _time.monotonic()
        result: Any = None
        error: str | None = None
        try:
            result = func(now)
            db.session.commit()
        except Exception as exc:  # a job must never kill the scheduler
            db.session.rollback()
            log.exception("scheduler job %s failed", job_id)
            error = f"{type(exc).__name__}: {exc}"[:2000]
        try:
            record_heartbeat(
                job_id,
                at=now,
                success=error is None,
                duration_ms=int((_time.monotonic() - started) * 1000),
                result=result if isinstance(result, dict) else None,
                error=error,
            )
            db.session.commit()
        except Exception:  # the database may be down; the next tick tries again
            db.session.rollback()
            log.exception("could not record the heartbeat of %s", job_id)
        finally:
            db.session.remove()


def build_scheduler(
    app: Flask, jobs: tuple[Job, ...] = JOBS, scheduler: BaseScheduler | None = None
) -> BaseScheduler:
    """A scheduler with every installed job added (not started). Interval jobs first run
    at start-up, so the heartbeat shows at once and nothing waits a whole interval."""
    scheduler = scheduler or BlockingScheduler()
    scheduler.configure(
        timezone=app.config["CLINIC_TIMEZONE"],
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    for job in jobs:
        start_now = {"next_run_time": clock.now()} if job.trigger == "interval" else {}
        scheduler.add_job(
            run_job,
            trigger=job.trigger,
            args=(app, job.id, job.func),
            id=job.id,
            name=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=job.misfire_grace_seconds,
            **start_now,
            **job.trigger_args,
        )
    return scheduler


def run(app: Flask) -> None:
    """Block, ticking, until Ctrl-C or SIGTERM."""
    scheduler = build_scheduler(app)

    def stop(_signum: int, _frame: Any) -> None:
        log.info("scheduler stopping")
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    log.info("scheduler running jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
    with app.app_context():
        try:
            forget_this_process()
            db.session.commit()
        except SQLAlchemyError:  # the database is down: the row ages out instead
            log.warning("could not remove this scheduler's heartbeat row")

"""The one table of periodic work: which feature function runs when.

Every job is a plain function `job(now) -> dict | None` from a feature; a feature adds
its job here (the scheduler imports the features, never the reverse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clinic.alerts.services import escalate_alerts
from clinic.courses.authorization import check_authorizations
from clinic.outcomes.cadence import plan_questionnaires
from clinic.reminders.dispatch import dispatch_job
from clinic.reminders.staff_messages import plan_daily_schedules
from clinic.scheduler.heartbeat import HEARTBEAT_INTERVAL, prune_processes
from clinic.treatments.thresholds import check_motor_threshold_due


@dataclass(frozen=True)
class Job:
    """One periodic job: `func(now)`; `trigger` is an APScheduler trigger name with its
    arguments (cron fields are in the clinic's time zone)."""

    id: str
    func: Callable[[datetime], Any]
    trigger: str
    trigger_args: dict[str, Any] = field(default_factory=dict)
    misfire_grace_seconds: int = 60


JOBS: tuple[Job, ...] = (
    # Every job's tick says its process is alive; this one says so even while the
    # others are busy for longer than an interval.
    Job(
        "heartbeat",
        prune_processes,
        "interval",
        {"minutes": HEARTBEAT_INTERVAL // timedelta(minutes=1)},
    ),
    Job("dispatch_reminders", dispatch_job, "interval", {"minutes": 1}),
    Job(
        "plan_questionnaires",
        plan_questionnaires,
        "interval",
        {"minutes": 15},
        misfire_grace_seconds=600,
    ),
    Job(
        "escalate_alerts",
        escalate_alerts,
        "interval",
        {"minutes": 5},
        misfire_grace_seconds=240,
    ),
    Job(
        "check_authorizations",
        check_authorizations,
        "cron",
        {"hour": 6, "minute": 0},
        misfire_grace_seconds=6 * 3600,
    ),
    Job(
        "check_motor_threshold_due",
        check_motor_threshold_due,
        "cron",
        {"hour": 6, "minute": 5},
        misfire_grace_seconds=6 * 3600,
    ),
    Job(
        "daily_schedule",
        plan_daily_schedules,
        "cron",
        {"hour": 6, "minute": 30},
        misfire_grace_seconds=3 * 3600,
    ),
)

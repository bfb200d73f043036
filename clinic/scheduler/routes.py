"""The admin page: each job's heartbeat, and the state of the reminders' outbox."""

from __future__ import annotations

from typing import Any

from flask import render_template

from clinic import clock
from clinic.permissions import Permission, requires
from clinic.reminders.queries import status_counts
from clinic.scheduler import bp
from clinic.scheduler.heartbeat import heartbeats, scheduler_status
from clinic.scheduler.jobs import JOBS


@bp.route("/admin/scheduler")
@requires(Permission.ADMINISTER)
def admin() -> Any:
    """The scheduler's heartbeat per job and the outbox's state."""
    beats = {beat.job_id: beat for beat in heartbeats()}
    return render_template(
        "scheduler/admin.html",
        status=scheduler_status(clock.now()),
        beats=beats,
        last_tick=max((beat.last_tick_at for beat in beats.values()), default=None),
        jobs=JOBS,
        outbox=status_counts(clock.now()),
    )

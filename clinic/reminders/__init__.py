"""Reminders: the message outbox, its delivery by email and SMS, patient links, the
reminder policy and templates, and the scheduler process's commands."""

from __future__ import annotations

from typing import Any

import click
from flask import Blueprint, Flask, current_app

from clinic import clock, events

bp = Blueprint("reminders", __name__)


@click.group("reminders")
def reminders_cli() -> None:
    """Reminder delivery."""


@reminders_cli.command("dispatch")
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 10_000))
def dispatch_command(batch_size: int) -> None:
    """One pass: send every due reminder, print the counts, exit."""
    from clinic.reminders.services import dispatch_all

    counts = dispatch_all(clock.now(), batch_size)
    click.echo(" ".join(f"{name}={value}" for name, value in counts.as_dict().items()))


@click.group("scheduler")
def scheduler_cli() -> None:
    """The periodic-job process."""


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the APScheduler process (blocking; Ctrl-C stops it)."""
    from clinic import scheduler

    scheduler.run(current_app._get_current_object())  # type: ignore[attr-defined]


def _scheduler_health() -> dict[str, Any]:
    from clinic.reminders.services import scheduler_status

    return {"scheduler": scheduler_status(clock.now())}


def init_app(app: Flask) -> None:
    from clinic.api.routes import add_health_extra
    from clinic.reminders import routes, services  # noqa: F401  (routes registers the views)

    app.register_blueprint(bp)
    app.cli.add_command(reminders_cli)
    app.cli.add_command(scheduler_cli)
    add_health_extra(app, _scheduler_health)
    # Receivers run inside the sender's transaction (see clinic.events).
    events.appointments_booked.connect(services.on_appointments_booked)
    events.appointment_moved.connect(services.on_appointment_moved)
    events.appointment_cancelled.connect(services.on_appointment_cancelled)
    events.consent_changed.connect(services.on_consent_changed)
    events.questionnaire_link_created.connect(services.on_questionnaire_link_created)
    events.alert_escalated.connect(services.on_alert_escalated)

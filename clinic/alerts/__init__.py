"""Alerts shared by every feature: the model, `raise_alert`, listing, acknowledging and
escalating (the alerts page itself is `outcomes.alerts`)."""

from __future__ import annotations

import click
from flask import Flask


@click.group("alerts")
def alerts_cli() -> None:
    """Safety and operational alerts."""


@alerts_cli.command("escalate")
def escalate() -> None:
    """Escalate urgent alerts left unacknowledged too long (the scheduler runs it too)."""
    from clinic import clock
    from clinic.alerts.services import escalate_alerts
    from clinic.extensions import db

    count = escalate_alerts(clock.now())
    db.session.commit()
    click.echo(f"{count} alert(s) escalated")


def init_app(app: Flask) -> None:
    app.cli.add_command(alerts_cli)

"""Alerts shared by every feature: the model, `raise_alert`, listing, acknowledging and
escalating, and the alerts page every role reads."""

from __future__ import annotations

import click
from flask import Blueprint, Flask

bp = Blueprint("alerts", __name__)


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
    from clinic.alerts import risk_screen, routes  # noqa: F401  (routes registers the views)

    app.register_blueprint(bp)
    # The alert card (alerts page, clinician's inbox) asks the ASQ's published questions.
    app.jinja_env.globals.update(
        asq_questions=risk_screen.QUESTIONS, asq_acuity=risk_screen.ACUITY_QUESTION
    )
    app.cli.add_command(alerts_cli)

"""`flask outcomes plan`: one pass of the questionnaire planner (the scheduler runs it too)."""

from __future__ import annotations

import click

from clinic import clock
from clinic.extensions import db


@click.group()
def outcomes() -> None:
    """Outcome questionnaires."""


@outcomes.command("plan")
def plan() -> None:
    """Create and hand over links for every questionnaire that is due now."""
    from clinic.outcomes.cadence import plan_questionnaires

    created = plan_questionnaires(clock.now())
    db.session.commit()
    click.echo(f"{created} questionnaire link(s) created")

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


@outcomes.command("refresh")
@click.option("--all", "everything", is_flag=True, help="Judge every treated course again.")
def refresh(everything: bool) -> None:
    """Judge the outcome report's stale course results now (the report does it too, at its
    next request: after an upgrade or a bulk import of many courses this does it ahead)."""
    from clinic.outcomes import results

    if everything:
        results.mark_all()
    judged = results.refresh()
    db.session.commit()
    click.echo(f"{judged} course result(s) judged")

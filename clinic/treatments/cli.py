"""`flask treatments ...`: the periodic motor-threshold check, runnable by hand."""

from __future__ import annotations

import click

from clinic import clock
from clinic.extensions import db


@click.group()
def treatments() -> None:
    """Treatment sessions."""


@treatments.command("check-mt")
def check_mt() -> None:
    """Open `motor_threshold_due` alerts for courses whose next session needs a new MT."""
    from clinic.treatments.thresholds import check_motor_threshold_due

    opened = check_motor_threshold_due(clock.now())
    db.session.commit()
    click.echo(f"motor threshold alerts opened: {opened}")

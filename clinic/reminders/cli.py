"""`flask reminders dispatch`: one delivery pass (for cron and tests; the scheduler
process runs the same delivery every minute)."""

from __future__ import annotations

import click

from clinic import clock
from clinic.reminders.dispatch import dispatch_all


@click.group("reminders")
def reminders_cli() -> None:
    """Reminder delivery."""


@reminders_cli.command("dispatch")
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 10_000))
def dispatch_command(batch_size: int) -> None:
    """One pass: send every due reminder, print the counts, exit."""
    counts = dispatch_all(clock.now(), batch_size)
    click.echo(" ".join(f"{name}={value}" for name, value in counts.as_dict().items()))

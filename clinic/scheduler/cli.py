"""`flask scheduler run`: the periodic-job process."""

from __future__ import annotations

import click
from flask import current_app


@click.group("scheduler")
def scheduler_cli() -> None:
    """The periodic-job process."""


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the APScheduler process (blocking; Ctrl-C stops it)."""
    # Imported here: web workers load this module but never APScheduler.
    from clinic.scheduler import runner

    runner.run(current_app._get_current_object())  # type: ignore[attr-defined]

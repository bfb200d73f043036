"""App-wide `flask` commands. Feature packages add their own groups in their init_app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate.cli import db as db_commands
from werkzeug.serving import run_simple

from clinic.backup import BackupError, back_up
from clinic.db import refresh_planner_statistics
from clinic.extensions import db


@click.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@click.option(
    "--patients",
    "patients",
    type=click.IntRange(min=1),
    default=None,
    help="Number of patients (default: a small demo of about 30).",
)
@click.option(
    "--years",
    type=click.IntRange(min=1, max=20),
    default=None,
    help="Years of history to generate.",
)
@click.option(
    "--devices",
    type=click.IntRange(min=1, max=100),
    default=None,
    help="Number of TMS chairs (per site).",
)
@click.option(
    "--sites",
    type=click.IntRange(min=1, max=50),
    default=1,
    show_default=True,
    help="Number of sites: more than one makes a clinic group, each site in its own zone.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has users.")
def demo_load(
    patients: int | None,
    years: int | None,
    devices: int | None,
    sites: int,
    seed: int,
    if_empty: bool,
) -> None:
    """Load demo data: small by default, or a realistic history of the given size."""
    from clinic.demo import is_empty, load

    if if_empty and not is_empty():
        click.echo("Database already has data; demo not loaded.")
        return
    summary = load(patients=patients, years=years, devices=devices, sites=sites, seed=seed)
    db.session.commit()
    with db.engine.begin() as connection:
        refresh_planner_statistics(connection)
    for line in summary:
        click.echo(line)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the app with the reminder scheduler beside it; Ctrl-C stops both.

    The scheduler is its own process, exactly as in production; this command only saves
    a developer from starting two terminals."""
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"]
    )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        run_simple(host, port, app, threaded=True)
    finally:
        scheduler.terminate()
        try:
            scheduler.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # A job still running (a lock wait, a slow mail server) must not keep Ctrl-C
            # waiting; the outbox's claims make a killed dispatcher safe (nothing is lost
            # or sent twice: the claim is retried after its lease).
            scheduler.kill()
            scheduler.wait()


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(file: Path) -> None:
    """Write a consistent backup of the database to FILE while the app keeps running
    (SQLite: a copy through the online backup API; PostgreSQL: pg_dump -Fc)."""
    try:
        back_up(current_app.config["SQLALCHEMY_DATABASE_URI"], file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backup written to {file}")


def init_app(app: Flask) -> None:
    app.cli.add_command(demo)
    app.cli.add_command(serve)
    # Beside `db upgrade`, where an operator looks for it: Flask-Migrate's group is one
    # shared click group, so adding the command again (another app) only replaces it.
    db_commands.add_command(backup)

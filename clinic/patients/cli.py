"""`flask patients import FILE.csv`: bulk intake with a progress bar and a per-row report."""

from __future__ import annotations

from pathlib import Path

import click

from clinic.db import refresh_planner_statistics
from clinic.extensions import db
from clinic.patients import importer


@click.group()
def patients() -> None:
    """Patient intake."""


@patients.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_csv(csv_file: Path) -> None:
    """Import patients from CSV_FILE (columns: see docs/patients.md).

    Every row is checked like a patient typed in; a bad row or a duplicate (same names and
    date of birth) is reported and skipped. Exit code 0 when every row was imported.
    """
    try:
        with csv_file.open(newline="", encoding="utf-8-sig") as stream:
            rows, problems = importer.open_rows(stream)
    except (UnicodeDecodeError, OSError) as exc:
        raise click.ClickException(f"cannot read {csv_file}: {exc}") from None
    if problems:
        raise click.ClickException(
            "the header is not usable: "
            + "; ".join(problems)
            + f". Known columns: {', '.join(importer.COLUMNS)}."
        )
    with click.progressbar(length=len(rows), label="Importing patients") as bar:
        report = importer.import_rows(rows, progress=bar.update)
    db.session.commit()
    with db.engine.begin() as connection:
        refresh_planner_statistics(connection)
    if report.errors:
        click.echo("Rows not imported:")
        for error in report.errors:
            click.echo(f"  row {error.row}: {error.field}: {error.message}")
    click.echo(
        f"{len(rows)} rows: {report.imported} imported, {report.duplicates} duplicates, "
        f"{report.failed} failed."
    )
    if not report.ok:
        raise SystemExit(1)

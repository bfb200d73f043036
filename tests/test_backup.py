"""`flask db backup FILE`: a consistent copy taken while the app writes, and clear refusals."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from flask_migrate.cli import db as db_commands
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from clinic.db import scratch_postgres_database
from config import PROJECT_ROOT
from tests.conftest import PG_URL


class Writer:
    """Another connection inserting chairs, one committed transaction each, until stopped."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.committed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO devices (site_id, name, active) "
                        "VALUES ((SELECT min(id) FROM sites), :name, true)"
                    ),
                    {"name": f"Backup chair {self.committed}"},
                )
            self.committed += 1

    def start(self, at_least: int) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while self.committed < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.committed >= at_least, "the writer did not get going"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.engine.dispose()


@pytest.fixture
def writer(database_url: str) -> Iterator[Writer]:
    writer = Writer(database_url)
    yield writer
    writer.stop()


def _chairs_in_backup(backend: str, backup: Path) -> int:
    """Open the backup as an operator would restore it and count the chairs."""
    if backend == "sqlite":
        with sqlite3.connect(backup) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            return int(copy.execute("SELECT count(*) FROM devices").fetchone()[0])
    assert PG_URL
    url, drop = scratch_postgres_database(PG_URL, "clinic_restore")
    try:
        libpq_url = make_url(url).set(drivername="postgresql").render_as_string(False)
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={libpq_url}", str(backup)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        engine = create_engine(url)
        with engine.connect() as connection:
            count = int(connection.scalar(text("SELECT count(*) FROM devices")) or 0)
        engine.dispose()
        return count
    finally:
        drop()


def test_backup_taken_while_another_connection_writes_is_consistent_and_has_the_rows(
    runner: FlaskCliRunner, backend: str, writer: Writer, tmp_path: Path
) -> None:
    backup = tmp_path / "clinic.backup"
    writer.start(at_least=20)
    before = writer.committed

    result = runner.invoke(db_commands, ["backup", str(backup)])

    after = writer.committed
    writer.stop()
    assert result.exit_code == 0, result.output
    assert f"Backup written to {backup}" in result.output
    assert before <= _chairs_in_backup(backend, backup) <= after
    assert [p.name for p in tmp_path.iterdir()] == ["clinic.backup"]  # no staging file left


def test_an_existing_file_is_not_overwritten(
    runner: FlaskCliRunner, backend: str, tmp_path: Path
) -> None:
    backup = tmp_path / "clinic.backup"
    backup.write_text("yesterday's backup")

    result = runner.invoke(db_commands, ["backup", str(backup)])

    assert result.exit_code == 1
    assert result.output == f"Error: {backup} already exists; choose a new file name\n"
    assert backup.read_text() == "yesterday's backup"


def test_a_bad_path_is_one_clear_line_and_a_failing_exit_code(tmp_path: Path) -> None:
    """Through the real `flask` command: no traceback reaches the operator."""
    env = {
        **os.environ,
        "CLINIC_ENV": "testing",
        "CLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.db'}",
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "db"]
    subprocess.run([*flask, "upgrade"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    target = tmp_path / "no-such-directory" / "clinic.backup"

    result = subprocess.run(
        [*flask, "backup", str(target)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: cannot write {target}: the directory {target.parent} does not exist\n"
    )

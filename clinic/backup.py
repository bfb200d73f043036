"""A consistent copy of the clinic's database, taken while the app keeps running.

SQLite: the online backup API copies every page in one step under a read transaction, so
the copy is one moment of the database (WAL mode lets the app keep writing meanwhile).
PostgreSQL: `pg_dump -Fc` reads from one snapshot too, and its custom format is what
`pg_restore` wants. Either way the copy is written beside the target and renamed into
place only when complete, so a failed backup never leaves a half file under the name.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url

SQLITE_BUSY_TIMEOUT_SECONDS = 30
PG_DUMP_TIMEOUT_SECONDS = 6 * 3600


class BackupError(Exception):
    """The backup could not be made; the message is one line for the operator."""


def back_up(database_url: str, target: Path) -> None:
    """Write a backup of the database at `database_url` to `target` (a new file)."""
    url = make_url(database_url)
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"cannot write {target}: the directory {target.parent} does not exist")
    if url.get_backend_name() == "sqlite":
        _back_up_sqlite(url, target)
    elif url.get_backend_name() == "postgresql":
        _back_up_postgresql(url, target)
    else:
        raise BackupError(f"cannot back up a {url.get_backend_name()} database")


@contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A temporary file next to `target`, renamed onto it when the block succeeds."""
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror}") from None
    os.close(handle)
    staging = Path(name)
    try:
        yield staging
        staging.replace(target)
    finally:
        staging.unlink(missing_ok=True)


def _back_up_sqlite(url: URL, target: Path) -> None:
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory; there is nothing on disk to back up")
    source_path = Path(url.database)
    if not source_path.is_file():
        raise BackupError(f"the database file {source_path} does not exist")
    with _staged(target) as staging:
        try:
            source = sqlite3.connect(
                f"file:{source_path}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_SECONDS
            )
            copy = sqlite3.connect(staging)
            try:
                source.backup(copy)  # every page in one step: one consistent moment
                # A single self-contained file: no -wal beside it to forget when copying it.
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
                source.close()
        except sqlite3.Error as exc:
            raise BackupError(f"SQLite backup failed: {exc}") from None


def _back_up_postgresql(url: URL, target: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError(
            "pg_dump not found on PATH; install the PostgreSQL client tools "
            "(the same major version as the server or newer)"
        )
    # libpq's own URL, without the password: that goes in the environment, not in `ps`.
    libpq_url = url.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False
    )
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    with _staged(target) as staging:
        try:
            result = subprocess.run(
                [pg_dump, "--format=custom", f"--file={staging}", f"--dbname={libpq_url}"],
                env=env,
                capture_output=True,
                text=True,
                timeout=PG_DUMP_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackupError(f"pg_dump could not run: {exc}") from None
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {result.returncode}"
            raise BackupError(f"pg_dump failed: {reason}")

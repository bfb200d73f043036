"""Reads are never held up by a writer: on SQLite a request that only reads begins a
deferred transaction instead of taking the write lock (PostgreSQL never blocked them)."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from sqlalchemy import text

from clinic.extensions import db
from tests.factories import ApiClient


def test_a_read_is_answered_while_another_connection_is_writing(
    app: Flask, api: ApiClient, admin: Any
) -> None:
    reader = api.as_(admin)
    assert reader.get("/api/v1/protocols").status_code == 200  # the token's use is recorded
    answers: list[int] = []

    def read() -> None:
        # A new thread starts from the app's defaults (writes serialised), as a worker does.
        answers.append(reader.get("/api/v1/protocols").status_code)

    with db.engine.connect() as writer:
        writer.begin()
        writer.execute(text("UPDATE protocols SET name = name"))  # holds the write lock
        thread = threading.Thread(target=read)
        thread.start()
        thread.join(timeout=20)
        finished_while_locked = not thread.is_alive()
        writer.rollback()
    thread.join()
    assert finished_while_locked, "the read waited for the writer"
    assert answers == [200]


def test_reads_that_record_an_audit_event_all_succeed_side_by_side(
    app: Flask, api: ApiClient, admin: Any
) -> None:
    """A search records who searched: a GET that writes. Several at once on SQLite each
    read first, then want the write lock; whichever finds its snapshot stale
    (SQLITE_BUSY_SNAPSHOT) is re-run queueing for the lock, never answered 500."""
    reader = api.as_(admin)
    assert reader.get("/api/v1/patients?q=ri").status_code == 200
    barrier = threading.Barrier(6)
    answers: list[int] = []

    def search() -> None:
        barrier.wait(timeout=30)
        for _ in range(5):
            answers.append(reader.get("/api/v1/patients?q=ri").status_code)

    threads = [threading.Thread(target=search) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert answers == [200] * 30


def test_a_stale_snapshot_is_contention_to_retry() -> None:
    """SQLite's extended busy codes are what the request is retried for, like plain BUSY."""
    import sqlite3
    import tempfile
    from pathlib import Path

    from sqlalchemy.exc import OperationalError

    from clinic.db import is_contention

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stale.db"
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("CREATE TABLE t (x)")
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT * FROM t").fetchall()
        writer.execute("INSERT INTO t VALUES (1)")
        try:
            reader.execute("INSERT INTO t VALUES (2)")
        except sqlite3.OperationalError as stale:
            assert stale.sqlite_errorname == "SQLITE_BUSY_SNAPSHOT"
            assert is_contention(OperationalError("INSERT", {}, stale))
        else:
            raise AssertionError("the stale snapshot was allowed to write")
        reader.close()
        writer.close()

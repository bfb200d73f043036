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

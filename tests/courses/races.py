"""Run service calls as truly concurrent requests: each contender in its own thread, app
context, session and database connection, committing or rolling back as a request does.

A contender is `read()`, which loads what its request would and returns `write()`. On
PostgreSQL every contender reads, then all meet at a barrier, then all write: the
interleaving in which a read-check-write loses an update unless something serialises
it. SQLite runs writing transactions one at a time (BEGIN IMMEDIATE, `clinic.db`), so a
contender that has read already holds the lock the others queue for; there the barrier
comes first and the database's own serialisation decides the order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask

from clinic.errors import DomainError
from clinic.extensions import db

Contender = Callable[[], Callable[[], Any]]


def race(app: Flask, backend: str, contenders: list[Contender]) -> list[int]:
    """The answer each contender's request would give (200, a refusal's 4xx, or 500 for
    anything unexpected), sorted. Contenders use ids, not the test's own objects: those
    belong to the test's session, which no other thread may use."""
    db.session.commit()  # the test's own fixtures are visible to every contender
    barrier = threading.Barrier(len(contenders))

    def run(contender: Contender) -> int:
        with app.app_context():
            try:
                if backend == "sqlite":
                    barrier.wait(timeout=30)
                    write = contender()
                else:
                    write = contender()
                    barrier.wait(timeout=30)
                write()
                db.session.commit()
                return 200
            except DomainError as refusal:
                db.session.rollback()
                return refusal.status
            except Exception:
                db.session.rollback()
                return 500
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(contenders)) as pool:
        answers = sorted(pool.map(run, contenders))
    db.session.expire_all()
    return answers

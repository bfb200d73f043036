"""One commit per request, in one place (as indico's `RH.process` does it).

Every view function is wrapped once the app is built: an answer below 400 commits the
session, anything else (a refused form, a 4xx/5xx, an exception) rolls it back. So no
handler commits, and nothing half-done by a refused action can be saved by a later
redirect. Services flush; this decides.

A request is one unit of work, so this is also where it is tried again when the
database gives up on it because of another transaction (a deadlock, a serialisation
failure, SQLite's lock wait running out): nothing of the failed try was kept, so the
view runs afresh. After the last try the error reaches `clinic.errors`, which answers
503 with Retry-After, never 500.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy.exc import DBAPIError

from clinic.db import is_contention, serialised_writes
from clinic.extensions import db

log = logging.getLogger(__name__)

_KEEP_WRITES = "transaction_keep_writes"
_WRAPPED = "__clinic_transactional__"
ATTEMPTS = 4
BACKOFF_SECONDS = 0.05
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SERIALISED_TOKEN = "transaction_serialised_token"


def keep_writes_on_refusal() -> None:
    """Commit this request's writes even though it answers 4xx: for the few records
    whose point is the refusal itself (a failed sign-in counted by the throttle)."""
    setattr(g, _KEEP_WRITES, True)


def _once(view: Callable[..., Any], app: Flask, args: Any, kwargs: Any) -> Response:
    """Run the view and end its transaction: commit below 400, else roll back."""
    g.pop(_KEEP_WRITES, None)
    try:
        response = app.make_response(view(*args, **kwargs))
        if response.status_code < 400 or g.get(_KEEP_WRITES, False):
            db.session.commit()
        else:
            db.session.rollback()
    except BaseException:
        db.session.rollback()
        raise
    return response


def _transactional(view: Callable[..., Any], app: Flask) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        queued = None
        try:
            for attempt in range(1, ATTEMPTS):
                try:
                    return _once(view, app, args, kwargs)
                except DBAPIError as error:
                    if not is_contention(error):
                        raise
                    log.info(
                        "retrying %s after contention (try %d): %s", view.__name__, attempt, error
                    )
                    # A reading request that turned out to write lost its race for SQLite's
                    # lock: its next tries queue for the lock from the start (BEGIN IMMEDIATE).
                    queued = queued or serialised_writes.set(True)
                    # Jittered, growing pauses, so the transactions that collided do not
                    # collide again in step.
                    time.sleep(random.uniform(0.5, 1.0) * BACKOFF_SECONDS * 2 ** (attempt - 1))
            return _once(view, app, args, kwargs)
        finally:
            if queued is not None:
                serialised_writes.reset(queued)

    setattr(wrapper, _WRAPPED, True)
    return wrapper


def _reads_share_the_database(app: Flask) -> None:
    """On SQLite a request that only reads begins a plain (deferred) transaction, so it
    never waits for, or holds up, the write lock: a second worker then serves reads
    beside a writer. A GET that does write (an audited view of a record) takes the lock
    at its first write; if another writer got there first (SQLITE_BUSY_SNAPSHOT), the
    view is tried again, queueing for the lock from the start this time. Runs before
    every other hook, so the user lookup reads the same way."""

    def choose_begin() -> None:
        if request.method in READING_METHODS:
            g.setdefault(_SERIALISED_TOKEN, serialised_writes.set(False))

    def restore_begin(_error: BaseException | None) -> None:
        token = g.pop(_SERIALISED_TOKEN, None)
        if token is not None:
            serialised_writes.reset(token)

    app.before_request_funcs.setdefault(None, []).insert(0, choose_begin)
    app.teardown_request(restore_begin)


def install(app: Flask) -> None:
    """Wrap every registered view (call after all blueprints are registered; calling
    it again wraps only views added since)."""
    if not app.extensions.get("clinic.transaction"):
        app.extensions["clinic.transaction"] = True
        _reads_share_the_database(app)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static" and not getattr(view, _WRAPPED, False):
            app.view_functions[endpoint] = _transactional(view, app)

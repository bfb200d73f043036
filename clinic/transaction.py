"""One commit per request, in one place (as indico's `RH.process` does it).

Every view function is wrapped once the app is built: an answer below 400 commits the
session, anything else (a refused form, a 4xx/5xx, an exception) rolls it back. So no
handler commits, and nothing half-done by a refused action can be saved by a later
redirect. Services flush; this decides.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, g

from clinic.extensions import db

_KEEP_WRITES = "transaction_keep_writes"


def keep_writes_on_refusal() -> None:
    """Commit this request's writes even though it answers 4xx: for the few records
    whose point is the refusal itself (a failed sign-in counted by the throttle)."""
    setattr(g, _KEEP_WRITES, True)


def _transactional(view: Callable[..., Any], app: Flask) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            response = app.make_response(view(*args, **kwargs))
        except BaseException:
            db.session.rollback()
            raise
        if response.status_code < 400 or g.get(_KEEP_WRITES, False):
            db.session.commit()
        else:
            db.session.rollback()
        return response

    return wrapper


def install(app: Flask) -> None:
    """Wrap every registered view (call after all blueprints are registered)."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = _transactional(view, app)

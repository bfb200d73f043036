"""The API's own endpoint: health, which every feature may add a key to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Flask, current_app
from flask_smorest import Blueprint
from sqlalchemy import text

from clinic.extensions import db
from clinic.permissions import public

blp = Blueprint("api_core", __name__, description="Health")


class HealthSchema(ma.Schema):
    status = ma.fields.String()
    database = ma.fields.String()
    scheduler = ma.fields.Dict(allow_none=True)


HEALTH_EXTRAS_KEY = "clinic.health_extras"


def add_health_extra(app: Flask, extra: Callable[[], dict[str, Any]]) -> None:
    """Let a feature add keys to the health answer (the scheduler heartbeat does). Kept per
    app, so the many apps a test run builds never share or pile up callables."""
    app.extensions.setdefault(HEALTH_EXTRAS_KEY, []).append(extra)


@blp.route("/health")
@public
@blp.response(200, HealthSchema)
@blp.doc(security=[])
def health() -> Any:
    """Is the service up? Answers 503 with status `unavailable` when the database does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any driver error means the database is not answering
        current_app.logger.exception("health check: database unavailable")
        return {"status": "unavailable", "database": "unavailable"}, 503
    body: dict[str, Any] = {"status": "ok", "database": "ok"}
    for extra in current_app.extensions.get(HEALTH_EXTRAS_KEY, []):
        body.update(extra())
    return body

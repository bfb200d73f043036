"""The API's own endpoint: health, which every feature may add a key to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from clinic.api.blueprint import Blueprint
from clinic.errors import RETRY_AFTER_OUTAGE
from clinic.extensions import db
from clinic.permissions import public

blp = Blueprint("api_core", __name__, description="Health")


class HealthSchema(ma.Schema):
    status = ma.fields.String()
    database = ma.fields.String()
    scheduler = ma.fields.Dict(allow_none=True)


HEALTH_EXTRAS_KEY = "clinic.health_extras"


def add_health_extra(app: Flask, extra: Callable[[], dict[str, Any]]) -> None:
    """Let a feature add keys to the health answer (the scheduler heartbeat does); its
    `status`, when `degraded`, degrades the whole answer. Kept per app, so the many apps
    a test run builds never share or pile up callables."""
    app.extensions.setdefault(HEALTH_EXTRAS_KEY, []).append(extra)


@blp.route("/health")
@public
@blp.response(200, HealthSchema)
@blp.doc(security=[])
def health() -> Any:
    """Is the service up? `ok`; `degraded` (still 200) when no scheduler process ticked
    within two of its intervals; 503 with status `unavailable` and Retry-After when the
    database does not answer."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:  # any driver error means the database is not answering
        current_app.logger.warning("health check: database unavailable: %s", error)
        headers = {"Retry-After": str(RETRY_AFTER_OUTAGE)}
        return {"status": "unavailable", "database": "unavailable"}, 503, headers
    body: dict[str, Any] = {"status": "ok", "database": "ok"}
    for extra in current_app.extensions.get(HEALTH_EXTRAS_KEY, []):
        found = dict(extra())
        if found.pop("status", None) == "degraded":
            body["status"] = "degraded"
        body.update(found)
    return body

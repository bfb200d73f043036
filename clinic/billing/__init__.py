"""Revenue and paperwork: CPT coding of every session, the fee schedule, claims (837P,
CSV, superbill) and prior authorizations with their packets and letters.

It sits above treatments and outcomes: it reads their records, nothing below reads it.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("billing", __name__, url_prefix="/billing")


def init_app(app: Flask) -> None:
    from clinic.billing import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)

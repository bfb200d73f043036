"""Documents and consent: files kept per patient (consent, referral, insurance card,
records) behind a storage interface, and the TMS informed consent signed on a tablet.

It sits just above patients, so courses and treatments can ask whether a patient has
signed before a course starts.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("documents", __name__)


def init_app(app: Flask) -> None:
    from clinic.documents import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)

"""The audit trail: who read or changed what, when and from where."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


def init_app(app: Flask) -> None:
    from clinic.audit import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)

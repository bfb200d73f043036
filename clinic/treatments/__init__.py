"""Treatment sessions: check-in, motor thresholds, the session log, signing and review."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("treatments", __name__)


def init_app(app: Flask) -> None:
    from clinic.treatments import cli, receivers, routes  # noqa: F401  (registers the views)

    receivers.connect()
    app.register_blueprint(bp)
    app.cli.add_command(cli.treatments)

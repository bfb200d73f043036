"""Patient intake: demographics, contact and consent, diagnoses, medication trials,
insurance authorizations and the TMS safety screening."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("patients", __name__, url_prefix="/patients")


def init_app(app: Flask) -> None:
    from clinic.patients import cli, routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
    app.cli.add_command(cli.patients)

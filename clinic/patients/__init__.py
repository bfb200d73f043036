"""Patient intake: demographics, contact and consent, diagnoses, medication trials,
insurance authorizations and the TMS safety screening."""

from __future__ import annotations

from flask import Blueprint, Flask

from clinic.extensions import db

bp = Blueprint("patients", __name__, url_prefix="/patients")


def commit_read() -> None:
    """Commit a read's audit row without expiring what the page or answer is about to show
    (expiring would reload every listed patient one by one)."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def init_app(app: Flask) -> None:
    from clinic.patients import cli, routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
    app.cli.add_command(cli.patients)

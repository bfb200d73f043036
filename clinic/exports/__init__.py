"""Data leaving the clinic for other systems: calendar feeds per chair and technician
(secret, revocable .ics URLs, nothing clinical) and CSV exports of patients, appointments
and outcomes. Above every feature: it reads several of them and owns no rule of theirs."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("exports", __name__)


def init_app(app: Flask) -> None:
    from clinic.exports import routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)

"""Pages that compose several features: the day board and the week view show the
schedule with what reminders (confirmations, change requests) and outcomes
(questionnaires due) know about it; intake registers, insures, consents and screens a
patient in one form. Registered after every feature, above them all."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("web", __name__)


def init_app(app: Flask) -> None:
    from clinic.web import calendar_feed, inbox, intake_page, routes  # noqa: F401  (views)

    app.register_blueprint(bp)

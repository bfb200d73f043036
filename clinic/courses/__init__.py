"""Treatment courses: protocols, prescribing, course status, numbers and authorizations."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("courses", __name__)


def init_app(app: Flask) -> None:
    from clinic.courses import receivers, routes

    receivers.connect()
    app.jinja_env.globals["patient_course_summaries"] = routes.patient_course_summaries
    app.register_blueprint(bp)

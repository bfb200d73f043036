"""Outcome measures: questionnaires (link, tablet, staff entry), cadence,
course outcomes and the clinic report."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, request, session, url_for

bp = Blueprint("outcomes", __name__)

TABLET_SESSION_KEY = "tablet"
# While a tablet is handed to a patient, only these pages answer; everything else
# (staff navigation, other patients) sends the tablet back to its questionnaire.
TABLET_OPEN_ENDPOINTS = frozenset(
    {
        "outcomes.tablet",
        "outcomes.tablet_done",
        "outcomes.link_page",
        "auth.logout",
        "auth.login",
        "static",
    }
)


def _keep_tablet_locked() -> Any:
    if TABLET_SESSION_KEY not in session or request.path.startswith("/api/"):
        return None
    if request.endpoint in TABLET_OPEN_ENDPOINTS:
        return None
    return redirect(url_for("outcomes.tablet"))


def init_app(app: Flask) -> None:
    from clinic.outcomes import cadence, cli, hints, receivers, results, routes  # noqa: F401
    from clinic.outcomes.forms import instrument_choices
    from clinic.outcomes.services import course_outcome_panel

    receivers.connect()
    results.connect()
    app.before_request(_keep_tablet_locked)
    app.jinja_env.globals.update(
        course_outcome_panel=course_outcome_panel,
        course_hints=hints.course_hints,
        patient_due_assignments=cadence.due_for_patient,
        questionnaire_choices=instrument_choices,
    )
    app.register_blueprint(bp)
    app.cli.add_command(cli.outcomes)

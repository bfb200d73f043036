"""Reminders: the message outbox, its delivery by email and SMS, patient links, the
reminder policy and templates.

Modules: `policy`, `message_templates`, `planning` (patient messages) and
`staff_messages` write the outbox; `dispatch` delivers it; `answers` is what patients
reply through their links; `inbound_sms` is STOP; `receivers` wires the planning to
other features' events. The scheduler process (`clinic.scheduler`) runs dispatch.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("reminders", __name__)


def init_app(app: Flask) -> None:
    from clinic.reminders import queries, receivers, routes  # noqa: F401  (routes: the views)
    from clinic.reminders.cli import reminders_cli

    receivers.connect()
    # The chart (patients, below reminders) shows the patient's messages through this.
    app.jinja_env.globals["patient_messages"] = queries.patient_messages
    app.register_blueprint(bp)
    app.cli.add_command(reminders_cli)

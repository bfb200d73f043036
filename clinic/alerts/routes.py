"""The alerts page: every role reads it; an admin or clinician acknowledges with a note."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.alerts import bp, services
from clinic.alerts.forms import AcknowledgeForm, ClearFlagForm, HistoryForm
from clinic.alerts.models import AlertStatus, RiskResult
from clinic.errors import DomainError
from clinic.forms import flash_refusal
from clinic.navigation import safe_local_url
from clinic.permissions import Permission, requires

OPEN_ALERTS_SHOWN = 200
ACKNOWLEDGED_ALERTS_SHOWN = 50


@bp.route("/alerts")
@requires(Permission.ENTER_RESPONSES)
def index() -> Any:
    """Open alerts first, urgent on top; then the latest acknowledged ones, older pages
    by cursor (of the user's sites' patients when they are limited to sites:
    `services.patient_scope`)."""
    patients = services.patient_scope(current_user.id)
    history = HistoryForm(request.args)
    after = history.cursor.cursor() if history.validate() else None
    acknowledged, older = services.history_page(
        services.list_alerts(
            status=AlertStatus.ACKNOWLEDGED,
            limit=ACKNOWLEDGED_ALERTS_SHOWN + 1,
            patients=patients,
            after=after,
        ),
        ACKNOWLEDGED_ALERTS_SHOWN,
    )
    return render_template(
        "alerts/index.html",
        open_alerts=services.list_alerts(
            status=AlertStatus.OPEN, limit=OPEN_ALERTS_SHOWN, patients=patients
        ),
        acknowledged=acknowledged,
        history=history,
        older=older,
        flagged=services.flagged_alerts(OPEN_ALERTS_SHOWN, patients),
        note_max=services.MAX_NOTE_LENGTH,
    ), (422 if history.errors else 200)


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@requires(Permission.REVIEW)
def acknowledge(alert_id: int) -> Response:
    form = AcknowledgeForm()
    if not form.validate_on_submit():
        flash("To acknowledge an alert, say what was done in the note.", "error")
    else:
        try:
            alert = services.acknowledge_alert(
                alert_id, form.note.data or "", actor_id=current_user.id, risk_screen=form.screen()
            )
        except DomainError as exc:
            flash_refusal(exc)
        else:
            flash(_acknowledged_message(alert.risk_result), "success")
    # Back where it was answered (the alerts page or the clinician's inbox).
    return redirect(safe_local_url(request.form.get("next")) or url_for("alerts.index"))


def _acknowledged_message(risk_result: str | None) -> str:
    if risk_result == RiskResult.ACUTE_POSITIVE:
        return (
            "Alert acknowledged. ASQ acute positive: the patient's courses are on hold and "
            "the patient is flagged until a clinician clears it or resumes the course."
        )
    if risk_result == RiskResult.NON_ACUTE_POSITIVE:
        return (
            "Alert acknowledged. ASQ non-acute positive: the patient is flagged for the "
            "technicians until a clinician clears it."
        )
    return "Alert acknowledged."


@bp.route("/alerts/<int:alert_id>/clear-flag", methods=["POST"])
@requires(Permission.REVIEW)
def clear_flag(alert_id: int) -> Response:
    form = ClearFlagForm()
    if not form.validate_on_submit():
        flash("To clear a flag, say what was done in the note.", "error")
    else:
        try:
            services.clear_risk_flag(alert_id, form.note.data or "", actor_id=current_user.id)
        except DomainError as exc:
            flash_refusal(exc)
        else:
            flash("Flag cleared.", "success")
    return redirect(url_for("alerts.index"))

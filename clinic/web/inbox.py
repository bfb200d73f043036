"""The clinician's work inbox: everything waiting for a clinician on one page, most urgent
first (open alerts, screenings to sign off, logs to sign and review, courses not
improving by session 10 or 20). It is a clinician's
home page, and its alerts count is in the navigation of every page. A clinician limited
to sites sees their sites' work (`clinic/scheduling/sites.py`), as on the review queue."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import current_user

from clinic.alerts import services as alerts
from clinic.alerts.models import AlertStatus
from clinic.outcomes.checkpoints import MIN_IMPROVEMENT_PCT, not_improving
from clinic.patients.screening import awaiting_sign_off
from clinic.permissions import Permission, requires
from clinic.scheduling import sites
from clinic.treatments.forms import ActionForm
from clinic.treatments.queries import review_queue
from clinic.web import bp

INBOX_ROWS = 50


@bp.route("/inbox")
@requires(Permission.REVIEW)
def inbox() -> Any:
    site_ids = sites.user_site_ids(current_user.id)
    return render_template(
        "web/inbox.html",
        open_alerts=alerts.list_alerts(
            status=AlertStatus.OPEN,
            limit=INBOX_ROWS,
            patients=alerts.patient_scope(current_user.id),
        ),
        screenings=awaiting_sign_off(INBOX_ROWS),
        queue=review_queue(INBOX_ROWS, site_ids=site_ids),
        not_improving=not_improving(INBOX_ROWS, site_ids=site_ids),
        min_improvement=MIN_IMPROVEMENT_PCT,
        action_form=ActionForm(),
        note_max=alerts.MAX_NOTE_LENGTH,
    )

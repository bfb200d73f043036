"""The day board and the week view: the schedule, and what the front desk must act on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import render_template, request
from flask_login import current_user

from clinic import clock
from clinic.alerts.services import risk_flags
from clinic.outcomes.cadence import due_counts_for_day
from clinic.permissions import Permission, requires
from clinic.reminders.answers import change_requests_for_day, confirmations_for
from clinic.scheduling import schedule, sites
from clinic.scheduling.routes import day_arg
from clinic.scheduling.site_routes import site_arg
from clinic.web import bp


def _only_technician() -> int | None:
    """Whose sessions the board and the week show: technicians see their own unless they
    ask for everyone's (`mine=0`); None shows everyone's."""
    default = "1" if current_user.role == "technician" else "0"
    return current_user.id if request.args.get("mine", default) == "1" else None


def _site() -> dict[str, Any]:
    """Which site the board shows (`site_id`, else the user's first site) and which
    the user may pick; a user limited to other sites gets 403."""
    visible = sites.visible_sites(current_user.id, site_arg())
    choices = [site for site in sites.list_sites() if visible is None or site.id in visible]
    chosen = site_arg() or sites.default_site_for(current_user.id).id
    return {"site_id": chosen, "site_choices": choices}


@bp.route("/schedule")
@requires(Permission.READ)
def board() -> Any:
    day = day_arg()
    technician_id = _only_technician()
    site = _site()
    layout = schedule.day_board(day, technician_id=technician_id, site_id=site["site_id"])
    return render_template(
        "web/board.html",
        **site,
        board=layout,
        day=day,
        mine=technician_id is not None,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        # What the front desk must act on, shown on each block: questionnaires due today,
        # a patient's request to change the time, and confirmations.
        questionnaires_due=due_counts_for_day(day),
        change_requested={r.appointment_id for r in change_requests_for_day(day)},
        confirmed=confirmations_for(layout.appointment_ids),
        # A patient flagged after PHQ-9 item 9 until a clinician clears it.
        risk_flags=risk_flags(
            block.appointment.patient_id
            for row in layout.rows
            for cell in row.cells
            if cell is not None
            for block in cell.blocks
        ),
        is_today=day == clock.today(),
    )


@bp.route("/schedule/week")
@requires(Permission.READ)
def week() -> Any:
    day = day_arg()
    monday = day - timedelta(days=day.weekday())
    technician_id = _only_technician()
    site = _site()
    return render_template(
        "web/week.html",
        **site,
        view=schedule.week_view(monday, technician_id=technician_id, site_id=site["site_id"]),
        monday=monday,
        mine=technician_id is not None,
        previous_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
    )

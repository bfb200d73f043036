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
from clinic.reminders.answers import board_answers
from clinic.scheduling import schedule, sites
from clinic.scheduling.routes import day_arg
from clinic.scheduling.site_routes import page_site
from clinic.web import bp
from clinic.web.exceptions import day_exceptions


def _only_technician() -> int | None:
    """Whose sessions the board and the week show: technicians see their own unless they
    ask for everyone's (`mine=0`); None shows everyone's."""
    default = "1" if current_user.role == "technician" else "0"
    return current_user.id if request.args.get("mine", default) == "1" else None


@bp.route("/schedule")
@requires(Permission.READ)
def board() -> Any:
    day = day_arg()
    technician_id = _only_technician()
    site = page_site()
    layout = schedule.day_board(day, technician_id=technician_id, site_id=site["site_id"])
    patient_ids = {
        block.appointment.patient_id
        for row in layout.rows
        for cell in row.cells
        if cell is not None
        for block in cell.blocks
    }
    # What the front desk must act on, shown on each block and in the side panel:
    # questionnaires due today, a patient's request to change the time, confirmations.
    questionnaires_due = due_counts_for_day(day, patient_ids)
    answers = board_answers(
        layout.appointment_ids, *schedule.day_span(day, day, sites.site_tz(site["site"]))
    )
    confirmed, change_requested = answers.confirmed, answers.change_requested
    return render_template(
        "web/board.html",
        **site,
        board=layout,
        day=day,
        mine=technician_id is not None,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        questionnaires_due=questionnaires_due,
        change_requested=change_requested,
        confirmed=confirmed,
        exceptions=day_exceptions(
            layout,
            confirmed=confirmed,
            change_requested=change_requested,
            questionnaires_due=questionnaires_due,
        )
        if day >= clock.today()
        else None,
        # A patient flagged after PHQ-9 item 9 until a clinician clears it.
        risk_flags=risk_flags(patient_ids),
        is_today=day == clock.today(),
    )


@bp.route("/schedule/week")
@requires(Permission.READ)
def week() -> Any:
    day = day_arg()
    monday = day - timedelta(days=day.weekday())
    technician_id = _only_technician()
    site = page_site()
    view = schedule.week_view(monday, technician_id=technician_id, site_id=site["site_id"])
    booked_days = {day for _device, day in view.cells}
    return render_template(
        "web/week.html",
        **site,
        view=view,
        # The calendar leaves out the days the clinic is closed and nobody is booked
        # (EventCalendar counts weekdays from Sunday = 0).
        hidden_weekdays=[
            day.isoweekday() % 7
            for day in view.days
            if day in view.closed and day not in booked_days
        ],
        monday=monday,
        mine=technician_id is not None,
        previous_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
    )

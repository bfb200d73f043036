"""Pages: the reminder list and change requests (front desk), policy and templates
(admin), the daily-schedule opt-in, patients' links, and Twilio's webhook."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from twilio.request_validator import RequestValidator

from clinic import clock, i18n
from clinic.errors import DomainError
from clinic.extensions import csrf
from clinic.forms import flash_refusal, show_refusal
from clinic.navigation import safe_local_url
from clinic.paging import split_page
from clinic.permissions import Permission, public, requires
from clinic.reminders import answers, bp, message_templates, planning, policy, queries
from clinic.reminders.forms import (
    ChangeRequestForm,
    ConfirmForm,
    DailyScheduleForm,
    HandledForm,
    PolicyForm,
    ReminderFilterForm,
    TemplateForm,
)
from clinic.reminders.inbound_sms import handle_inbound_sms
from clinic.reminders.messages import PLACEHOLDERS
from clinic.reminders.models import Reminder
from clinic.reminders.recipients import patient_timezone
from clinic.reminders.staff_messages import set_daily_schedule
from clinic.scheduling import sites
from clinic.scheduling.site_routes import page_site

PAGE_LIMIT = 200

# --------------------------------------------------------------------- staff pages


@bp.route("/reminders")
@requires(Permission.READ_REMINDERS)
def index() -> Any:
    """Messages due on one day at one site (its clock), for the front desk to see what
    went out."""
    form = ReminderFilterForm(request.args)
    site = page_site()
    tz = sites.site_tz(site["site"])
    day = _day_arg(tz)
    start = datetime.combine(day, time(0), tzinfo=tz)
    found: list[Any] = []
    if form.validate():
        found = list(
            queries.list_reminders(
                status=form.status.data or None,
                since=start,
                until=start + timedelta(days=1),
                site_ids={site["site_id"]},
                limit=PAGE_LIMIT + 1,
                after=form.cursor.cursor(),
            )
        )
    rows, next_cursor = split_page(found, PAGE_LIMIT, Reminder.due_at)
    return render_template(
        "reminders/index.html",
        **site,
        rows=rows,
        form=form,
        day=day,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        paged=bool(form.cursor.data),
        next_cursor=next_cursor,
    ), (422 if form.errors else 200)


def _day_arg(tz: ZoneInfo) -> date:
    try:
        return date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return clock.today(tz)


@bp.route("/reminders/change-requests")
@requires(Permission.READ)
def change_requests() -> Any:
    """Patients' open requests to change an appointment at one site, for its next two
    weeks."""
    site = page_site()
    tz = sites.site_tz(site["site"])
    start = datetime.combine(clock.today(tz), time(0), tzinfo=tz)
    items = answers.open_change_requests(start, start + timedelta(days=14), site_id=site["site_id"])
    return render_template(
        "reminders/change_requests.html", **site, items=items, form=HandledForm()
    )


@bp.route("/reminders/<int:reminder_id>/resend", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
def resend(reminder_id: int) -> Any:
    """Send a patient's message again (from the chart's message history)."""
    back = safe_local_url(request.form.get("next")) or url_for("reminders.index")
    if HandledForm().validate_on_submit():
        try:
            copy = planning.resend_message(reminder_id, actor_id=current_user.id, now=clock.now())
        except DomainError as error:
            flash_refusal(error)
        else:
            flash(f"Sent again to {copy.recipient} (it goes out within a minute).", "success")
    return redirect(back)


@bp.route("/reminders/change-requests/<int:response_id>/handled", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
def change_request_handled(response_id: int) -> Any:
    form = HandledForm()
    if form.validate_on_submit():
        answers.mark_change_request_handled(response_id, actor_id=current_user.id)
        flash("Change request marked handled.", "success")
    return redirect(url_for("reminders.change_requests"))


@bp.route("/profile/daily-schedule", methods=["GET", "POST"])
@requires(Permission.AUTHENTICATED)
def daily_schedule() -> Any:
    """Opt in or out of the morning schedule email."""
    form = DailyScheduleForm()
    if form.validate_on_submit():
        set_daily_schedule(
            current_user.id, bool(form.wants_daily_schedule.data), actor_id=current_user.id
        )
        flash("Your daily schedule email setting is saved.", "success")
        return redirect(url_for("reminders.daily_schedule"))
    if request.method == "GET":
        form.wants_daily_schedule.data = current_user.wants_daily_schedule
    return render_template("reminders/daily_schedule.html", form=form)


# --------------------------------------------------------------------- admin pages


@bp.route("/admin/reminders/policy", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_policy() -> Any:
    form = PolicyForm(obj=policy.get_policy())
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in policy.POLICY_FIELDS}
        try:
            policy.update_policy(values, actor_id=current_user.id)
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash("Reminder policy saved.", "success")
            return redirect(url_for("reminders.admin_policy"))
    return render_template("reminders/admin_policy.html", form=form)


@bp.route("/admin/reminders/templates")
@requires(Permission.ADMINISTER)
def admin_templates() -> Any:
    return render_template(
        "reminders/admin_templates.html", templates=message_templates.list_templates()
    )


@bp.route("/admin/reminders/templates/<kind>/<channel>", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_template_edit(kind: str, channel: str) -> Any:
    """Edit one template; "Preview" shows the message with sample values without saving."""
    template = message_templates.get_template(kind, channel)
    form = TemplateForm(obj=template)
    preview = None
    if form.validate_on_submit():
        subject, body = form.subject.data or "", form.body.data or ""
        try:
            if form.save.data:
                message_templates.update_template(
                    kind, channel, subject=subject, body=body, actor_id=current_user.id
                )
                flash("Template saved.", "success")
                return redirect(url_for("reminders.admin_templates"))
            preview = message_templates.preview_template(kind, channel, subject, body)
        except DomainError as exc:
            show_refusal(form, exc)
    return render_template(
        "reminders/admin_template_edit.html",
        form=form,
        template=template,
        placeholders=PLACEHOLDERS[kind],
        preview=preview,
    )


# ------------------------------------------------------------------- patient links


def _in_patients_language(purpose: str, token: str, template: str, **context: Any) -> str:
    """A patient page in the language of the link's patient (else the browser's)."""
    language = answers.link_language(purpose, token) or i18n.browser_language()
    with i18n.speaking(language):
        return render_template(template, **context)


def _notice(purpose: str, token: str, code: str, message: str, status: int = 200) -> Any:
    """The answer to a patient's click: `code` picks its translated words (see the page)."""
    page = _in_patients_language(
        purpose, token, "reminders/patient_notice.html", code=code, message=message
    )
    return page, status


def _patient_page(template: str, token: str, purpose: str, **context: Any) -> Any:
    try:
        appointment = answers.appointment_for_link(purpose, token)
    except DomainError as exc:
        return _notice(purpose, token, exc.code, exc.message, exc.status)
    local = appointment.starts_at.astimezone(patient_timezone(appointment.patient, appointment))
    return _in_patients_language(
        purpose,
        token,
        template,
        appointment=appointment,
        day=i18n.long_date(local.date(), appointment.patient.language),
        time=f"{local:%H:%M}",
        **context,
    )


@bp.route("/r/<token>/confirm", methods=["GET", "POST"])
@public
def patient_confirm(token: str) -> Any:
    """A patient confirms they will come (a button, so link scanners cannot confirm)."""
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            answers.confirm_attendance(token)
        except DomainError as exc:
            return _notice("confirm", token, exc.code, exc.message, exc.status)
        return _notice("confirm", token, "confirmed", "Thank you, see you then.")
    return _patient_page("reminders/patient_confirm.html", token, "confirm", form=form)


@bp.route("/r/<token>/change", methods=["GET", "POST"])
@public
def patient_change(token: str) -> Any:
    """A patient asks the front desk to change the appointment."""
    form = ChangeRequestForm()
    if form.validate_on_submit():
        try:
            answers.request_change(token, form.message.data)
        except DomainError as exc:
            return _notice("change", token, exc.code, exc.message, exc.status)
        return _notice(
            "change",
            token,
            "change_requested",
            "Thank you. The front desk will contact you to find a new time.",
        )
    return _patient_page("reminders/patient_change.html", token, "change", form=form)


@bp.route("/r/<token>/calendar.ics")
@public
def patient_calendar(token: str) -> Any:
    """The appointment as a calendar file (same UID on every move, growing SEQUENCE)."""
    body = answers.calendar_for_link(token)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="appointment.ics"'},
    )


# ---------------------------------------------------------------------- Twilio STOP


def _twilio_signature_valid() -> bool:
    token = current_app.config["CLINIC_TWILIO"].get("token")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    validator = RequestValidator(token)
    params = request.form.to_dict()
    # Twilio signs the public URL it called; behind a proxy that is CLINIC_BASE_URL's.
    public_url = current_app.config["CLINIC_BASE_URL"] + request.full_path.rstrip("?")
    return any(validator.validate(url, params, signature) for url in (request.url, public_url))


@bp.route("/webhooks/twilio/sms", methods=["POST"])
@public
@csrf.exempt
def twilio_sms() -> Any:
    """Inbound SMS from Twilio: STOP (and its synonyms) withdraws SMS consent."""
    if not _twilio_signature_valid():
        abort(403, description="Invalid Twilio signature.")
    handle_inbound_sms(request.form.get("From", ""), request.form.get("Body", ""))
    return Response(
        '<?xml version="1.0" encoding="UTF-8"?><Response></Response>', mimetype="text/xml"
    )

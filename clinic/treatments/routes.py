"""Pages: the technician's day, the log form, a log's page, the review queue, the record."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from clinic import clock
from clinic.courses import titration
from clinic.errors import DomainError, Invalid
from clinic.forms import go_to, show_refusal
from clinic.navigation import safe_local_url
from clinic.permissions import Permission, Role, requires
from clinic.scheduling import lifecycle, sites
from clinic.scheduling.site_routes import page_site
from clinic.transaction import keep_writes_on_refusal
from clinic.treatments import bp, coil_target, queries, supervision
from clinic.treatments.fields import MAX_LOCATION
from clinic.treatments.forms import ActionForm, AmendmentForm, CoilTargetForm, TreatmentLogForm
from clinic.treatments.review import may_sign, review_treatment, review_treatments, sign_treatment
from clinic.treatments.treatment_log import amend_treatment, log_treatment, view_treatment

INTEGER_FIELDS = ("intensity_pct_mt", "pulses_delivered", "comfort_score", "supervisor_id")


def _back(default: str) -> str:
    """Return to the page the form was on (same site only)."""
    return safe_local_url(request.form.get("next")) or default


@bp.route("/today")
@requires(Permission.LOG_TREATMENTS)
def today() -> Any:
    """The technician's sessions of the day at their site (`site_id` picks another of
    theirs), or the whole site's with ?scope=clinic."""
    return _today_page(whole_clinic=request.args.get("scope") == "clinic")


def _today_page(
    *, whole_clinic: bool, at_site: int | None = None, notice: str | None = None
) -> Any:
    site = page_site(at_site)
    day = clock.today(sites.site_tz(site["site"]))
    cards = queries.todays_sessions(day, None if whole_clinic else current_user.id, site["site_id"])
    return render_template(
        "treatments/today.html",
        **site,
        cards=cards,
        day=day,
        whole_clinic=whole_clinic,
        action_form=ActionForm(),
        notice=notice,
    )


@bp.route("/appointments/<int:appointment_id>/check-in", methods=["POST"])
@requires(Permission.CHECK_IN)
def check_in(appointment_id: int) -> Any:
    form = ActionForm()
    if not form.validate_on_submit():
        flash("Your form expired. Please try again.", "error")
        return redirect(_back(url_for("treatments.today")))
    appointment = lifecycle.check_in(appointment_id, current_user.id)
    if request.headers.get("HX-Request"):
        # From the Today list with htmx: answer the session's row, swapped in place.
        card = queries.session_card(appointment_id, viewer_id=current_user.id)
        return render_template(
            "treatments/_today_row.html", card=card, action_form=form, checked_in_now=True
        )
    flash(f"{appointment.patient.full_name} is checked in.", "success")
    return redirect(_back(url_for("treatments.today")))


def _prefill(form: TreatmentLogForm, card: queries.SessionCard) -> None:
    """The day's dose (the titration's step), the coil position used last (else the course's
    coil target) and the physician on duty."""
    form.intensity_pct_mt.data = card.proposed_pct_mt
    form.pulses_delivered.data = card.course.protocol.total_pulses
    target = coil_target.describe(card.coil_target)
    form.coil_location.data = card.last_coil_location or (target[:MAX_LOCATION] if target else None)
    form.completed.data = True
    form.supervisor_id.data = supervision.proposed_supervisor(card.course)


def _supervisor_choices(form: TreatmentLogForm) -> None:
    form.supervisor_id.choices = [
        SelectChoice(user.id, f"{user.name}" + (" (admin)" if user.role == Role.ADMIN else ""))
        for user in supervision.supervisors()
    ]


def _log_values(form: TreatmentLogForm) -> dict[str, Any]:
    adverse_event = None
    if form.adverse_event_type.data:
        adverse_event = {
            "type": form.adverse_event_type.data,
            "severity": form.adverse_event_severity.data or None,
            "description": form.adverse_event_description.data or None,
        }
    return {
        "motor_threshold_pct": form.motor_threshold_pct.data,
        "motor_threshold_method": form.motor_threshold_method.data,
        "intensity_pct_mt": form.intensity_pct_mt.data,
        "pulses_delivered": form.pulses_delivered.data,
        "completed": bool(form.completed.data),
        "stop_reason": form.stop_reason.data or None,
        "coil_location": form.coil_location.data or None,
        "side_effects": list(form.side_effects.data or []),
        "comfort_score": form.comfort_score.data,
        "adverse_event": adverse_event,
        "notes": form.notes.data or None,
        "supervisor_id": form.supervisor_id.data,
    }


@bp.route("/appointments/<int:appointment_id>/log", methods=["GET", "POST"])
@requires(Permission.LOG_TREATMENTS)
def log_session(appointment_id: int) -> Any:
    """The log form, prefilled from the course: protocol, prescribed %MT, the last MT and
    the coil position used last time, with the dose in machine output computed."""
    card = queries.session_card(appointment_id, viewer_id=current_user.id)
    if card.log is not None:
        return go_to(url_for("treatments.detail", treatment_id=card.log.id))
    sites.require_appointment_site(current_user.id, card.appointment)  # the service's 403
    if not card.appointment.is_live:
        flash(f"This appointment is {card.appointment.status.replace('_', '-')}.", "warning")
        return go_to(url_for("treatments.today"))
    if request.method == "GET" and card.not_loggable_reason:
        flash(card.not_loggable_reason, "warning")
        return go_to(url_for("treatments.today"))
    # Opened in place on Today (htmx): saving answers Today itself, refusals the form.
    in_place = bool(request.headers.get("HX-Request"))
    form = TreatmentLogForm()
    _supervisor_choices(form)
    status = 200
    if request.method == "GET":
        _prefill(form, card)
    elif form.validate_on_submit():
        try:
            log = log_treatment(appointment_id, current_user.id, **_log_values(form))
        except DomainError as error:
            # Any refusal (bad dose, too early, course on hold) keeps what was typed.
            show_refusal(form, error, aliases={"adverse_event": "adverse_event_type"})
            card = queries.session_card(appointment_id, viewer_id=current_user.id)
            status = error.status
        else:
            if form.save_and_sign.data:
                # The author may always sign: logged and signed in one step, and the
                # technician is back on the day's list for the next patient.
                sign_treatment(log.id, current_user.id)
                done = f"Session logged and signed for {card.appointment.patient.full_name}."
                if in_place:  # the list as the technician had it (mine or the clinic's)
                    scope = "scope=clinic" in request.headers.get("HX-Current-URL", "")
                    return _today_page(
                        whole_clinic=scope, at_site=card.appointment.device.site_id, notice=done
                    )
                flash(done, "success")
                return redirect(url_for("treatments.today"))
            flash("Session logged. Check it, then sign it.", "success")
            return go_to(url_for("treatments.detail", treatment_id=log.id))
    else:
        status = 422
    if status != 200:
        # A refused log is rolled back already (the card, read again, audited the view).
        keep_writes_on_refusal()
    # In place, the form (first shown or refused) goes into its panel, not over the list.
    headers = {"HX-Retarget": "#log-panel", "HX-Reselect": "#log-panel"} if in_place else {}
    return (
        render_template(
            "treatments/log_form.html",
            card=card,
            form=form,
            coil_summary=coil_target.describe(card.coil_target),
            titration_text=titration.describe(card.course),
            in_place=in_place,
        ),
        status,
        headers,
    )


@bp.route("/treatments/<int:treatment_id>")
@requires(Permission.READ)
def detail(treatment_id: int) -> Any:
    """A log, readable by all as the chart is; signing, review and corrections are offered
    only to staff who work at the session's site (the services refuse the others)."""
    log = view_treatment(treatment_id, actor_id=current_user.id)
    at_my_site = sites.works_at(
        sites.user_site_ids(current_user.id), log.appointment.device.site_id
    )
    return render_template(
        "treatments/detail.html",
        log=log,
        coil_summary=coil_target.describe(coil_target.get_coil_target(log.course_id)),
        action_form=ActionForm(),
        amendment_form=AmendmentForm(),
        at_my_site=at_my_site,
        can_sign=at_my_site
        and log.signed_at is None
        and current_user.can(Permission.LOG_TREATMENTS)
        and may_sign(log, current_user),
    )


@bp.route("/treatments/<int:treatment_id>/sign", methods=["POST"])
@requires(Permission.LOG_TREATMENTS)
def sign(treatment_id: int) -> Any:
    if ActionForm().validate_on_submit():
        sign_treatment(treatment_id, current_user.id)
        flash("Log signed. It can now only be corrected by an amendment.", "success")
    return redirect(_back(url_for("treatments.detail", treatment_id=treatment_id)))


@bp.route("/treatments/<int:treatment_id>/review", methods=["POST"])
@requires(Permission.REVIEW)
def review(treatment_id: int) -> Any:
    if ActionForm().validate_on_submit():
        review_treatment(treatment_id, current_user.id)
        flash("Log reviewed.", "success")
    return redirect(_back(url_for("treatments.detail", treatment_id=treatment_id)))


def _page_value(field: str, raw: str) -> Any:
    """Turn the amendment form's text into the value the service expects."""
    text = raw.strip()
    if field == "side_effects":
        return [code.strip() for code in text.split(",") if code.strip()]
    if field in INTEGER_FIELDS:
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise Invalid(
                "Enter a whole number.", fields={"value": ["Enter a whole number."]}
            ) from None
    return text or None


@bp.route("/treatments/<int:treatment_id>/amendments", methods=["POST"])
@requires(Permission.LOG_TREATMENTS)
def amend(treatment_id: int) -> Any:
    form = AmendmentForm()
    if form.validate_on_submit():
        field = form.field.data or ""
        amend_treatment(
            treatment_id,
            current_user.id,
            field=field,
            value=_page_value(field, form.value.data or ""),
            reason=form.reason.data or "",
        )
        flash("Amendment recorded.", "success")
    else:
        flash("Choose a field and give a reason for the correction.", "error")
    return redirect(url_for("treatments.detail", treatment_id=treatment_id))


@bp.route("/review", methods=["GET", "POST"])
@requires(Permission.REVIEW)
def review_queue() -> Any:
    """Unsigned and unreviewed logs and adverse events; review one or the ticked ones."""
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        single = request.form.get("single", type=int)
        ids = [single] if single else request.form.getlist("selected", type=int)
        reviewed = review_treatments(ids, current_user.id)
        if reviewed:
            flash(f"{len(reviewed)} log{'s' if len(reviewed) != 1 else ''} reviewed.", "success")
        else:
            flash("Nothing was selected, or it was already reviewed.", "warning")
        return redirect(url_for("treatments.review_queue"))
    return render_template(
        "treatments/review_queue.html",
        queue=queries.review_queue(site_ids=sites.user_site_ids(current_user.id)),
        form=form,
    )


@bp.route("/courses/<int:course_id>/record")
@requires(Permission.READ)
def course_record(course_id: int) -> Any:
    """The printable record of a course, for payers and referring doctors."""
    summary = queries.course_record(course_id, actor_id=current_user.id)
    return render_template(
        "treatments/course_record.html",
        record=summary,
        coil_summary=coil_target.describe(summary.coil_target),
        titration_text=titration.describe(summary.course),
    )


@bp.route("/courses/<int:course_id>/coil-target", methods=["GET", "POST"])
@requires(Permission.LOG_TREATMENTS)
def coil_target_form(course_id: int) -> Any:
    """Set the course's coil target once (method and measurements); every log form shows
    it and the record prints it."""
    course, current = coil_target.read_coil_target(course_id, actor_id=current_user.id)
    form = CoilTargetForm()
    if request.method == "GET" and current is not None:
        form.method.data = current.method
        form.description.data = current.description
        for name, value in current.measurements.items():
            if name in form:
                form[name].data = value
    status = 200
    if request.method == "POST" and not form.validate_on_submit():
        keep_writes_on_refusal()  # the audited view of the chart stands
        status = 422
    elif request.method == "POST":
        try:
            coil_target.set_coil_target(
                course_id,
                current_user.id,
                method=form.method.data,
                measurements=form.measurements(),
                description=form.description.data or None,
            )
        except DomainError as error:
            aliases = {f"measurements.{name}": name for name in coil_target.LABELS}
            show_refusal(form, error, aliases=aliases)
            # Rolled back: read again, so the page's audited view is kept.
            course, current = coil_target.read_coil_target(course_id, actor_id=current_user.id)
            keep_writes_on_refusal()
            status = error.status
        else:
            flash("Coil target saved.", "success")
            return redirect(_back(url_for("treatments.course_record", course_id=course_id)))
    return render_template(
        "treatments/coil_target.html",
        course=course,
        current=current,
        summary=coil_target.describe(current),
        form=form,
        measurements=coil_target.MEASUREMENTS,
        next_url=safe_local_url(request.values.get("next")),
    ), status

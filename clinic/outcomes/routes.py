"""Pages: the patient link, tablet mode, staff entry and the report."""

from __future__ import annotations

from typing import Any

from flask import (
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic import clock, i18n
from clinic.alerts.models import AlertKind
from clinic.auth import services as auth
from clinic.errors import DomainError, Gone, NotFound
from clinic.forms import show_refusal
from clinic.navigation import safe_local_url
from clinic.outcomes import TABLET_SESSION_KEY, bp, services
from clinic.outcomes import report as clinic_report
from clinic.outcomes.catalog import Instrument
from clinic.outcomes.forms import (
    InstrumentForm,
    ReportFilterForm,
    UnlockForm,
    answers_of,
    questionnaire_form,
    staff_questionnaire_form,
)
from clinic.outcomes.models import QuestionnaireResponse, ResponseSource
from clinic.outcomes.report_csv import report_csv as registry_csv
from clinic.patients.lookup import view_patient
from clinic.permissions import Permission, public, requires
from clinic.scheduling import sites
from clinic.scheduling.site_routes import site_arg
from clinic.transaction import keep_writes_on_refusal


def _bare(template: str, status: int = 200, *, language: str, **context: Any) -> Response:
    """Patient-facing pages, in the patient's language; no referrer leaves them (the URL
    holds the token)."""
    with i18n.speaking(language):
        response = make_response(render_template(template, **context), status)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _flagged(response: QuestionnaireResponse) -> bool:
    return AlertKind.SUICIDAL_IDEATION in (response.flags or [])


# The patient's link (public) ------------------------------------------------------------


@bp.route("/q/<token>", methods=["GET", "POST"])
@public
def link_page(token: str) -> Response:
    """The questionnaire a patient opens from a message: first name only, no login."""
    token = token[:200]
    language = services.link_language(token) or i18n.browser_language()
    try:
        link = services.open_link(token)
    except (NotFound, Gone) as exc:
        return _bare("outcomes/link_gone.html", exc.status, language=language, code=exc.code)
    instrument = services.instrument_or_invalid(link.instrument).in_language(language)
    form = questionnaire_form(instrument)
    if form.validate_on_submit():
        try:
            response = services.submit_link(token, answers_of(form, instrument))
        except Gone as exc:
            return _bare("outcomes/link_gone.html", 410, language=language, code=exc.code)
        return _bare(
            "outcomes/thanks.html", language=language, crisis=_flagged(response), tablet=False
        )
    status = 422 if request.method == "POST" else 200
    return _bare(
        "outcomes/link.html",
        status,
        language=language,
        form=form,
        instrument=instrument,
        first_name=link.patient.first_name,
    )


# Tablet mode at the desk ----------------------------------------------------------------


def _chosen_instrument(prefix: str) -> str | None:
    """The questionnaire picked in one of the responses page's choosers (`prefix` tells the
    tablet's from the link's); None when nothing valid was picked."""
    form = InstrumentForm(prefix=prefix)
    return form.instrument.data if form.validate_on_submit() else None


def _choose_a_questionnaire(patient_id: int) -> Response:
    flash("Choose a questionnaire.", "error")
    return redirect(url_for("outcomes.patient_responses", patient_id=patient_id))


@bp.route("/patients/<int:patient_id>/tablet", methods=["POST"])
@requires(Permission.ENTER_RESPONSES)
def tablet_start(patient_id: int) -> Response:
    """Hand the tablet to the patient: from now on it shows only the questionnaire."""
    patient = services.get_patient(patient_id)
    instrument = _chosen_instrument("tablet")
    if instrument is None:
        return _choose_a_questionnaire(patient.id)
    session[TABLET_SESSION_KEY] = {
        "patient_id": patient.id,
        "instrument": instrument,
        "done": False,
        "crisis": False,
    }
    return redirect(url_for("outcomes.tablet"))


@bp.route("/tablet", methods=["GET", "POST"])
@requires(Permission.ENTER_RESPONSES)
def tablet() -> Response:
    state = session.get(TABLET_SESSION_KEY)
    if not state:
        return redirect(url_for("auth.home"))
    if state["done"]:
        return redirect(url_for("outcomes.tablet_done"))
    patient = services.get_patient(state["patient_id"])
    instrument = services.instrument_or_invalid(state["instrument"]).in_language(patient.language)
    form = questionnaire_form(instrument)
    if form.validate_on_submit():
        response = services.record_response(
            patient.id,
            instrument.code,
            answers_of(form, instrument),
            None,
            ResponseSource.TABLET,
            current_user.id,
        )
        session[TABLET_SESSION_KEY] = {**state, "done": True, "crisis": _flagged(response)}
        return redirect(url_for("outcomes.tablet_done"))
    status = 422 if request.method == "POST" else 200
    return _bare(
        "outcomes/tablet.html",
        status,
        language=patient.language,
        form=form,
        instrument=instrument,
        first_name=patient.first_name,
    )


@bp.route("/tablet/done", methods=["GET", "POST"])
@requires(Permission.ENTER_RESPONSES)
def tablet_done() -> Response:
    """Thank the patient, then only the staff member's password unlocks the staff view."""
    state = session.get(TABLET_SESSION_KEY)
    if not state or not state["done"]:
        return redirect(url_for("outcomes.tablet"))
    form = UnlockForm()
    status = 200
    if form.validate_on_submit():
        result = auth.authenticate(
            current_user.email, form.password.data or "", request.remote_addr or "", None
        )
        if result.user is not None and result.user.id == current_user.id:
            session.pop(TABLET_SESSION_KEY, None)
            flash("Tablet returned to staff view.", "success")
            return redirect(url_for("outcomes.patient_responses", patient_id=state["patient_id"]))
        keep_writes_on_refusal()  # the failure counts towards sign-in throttling
        form.password.errors = [result.error or "That is not your password."]
        status = 401
    elif request.method == "POST":
        status = 422
    language = services.get_patient(state["patient_id"]).language
    return _bare(
        "outcomes/thanks.html",
        status,
        language=language,
        crisis=state["crisis"],
        tablet=True,
        form=form,
    )


# Staff pages on the chart ---------------------------------------------------------------


def _choosers() -> dict[str, InstrumentForm]:
    """One questionnaire picker per action, prefixed so their ids stay unique."""
    return {
        "entry": InstrumentForm(formdata=None, meta={"csrf": False}),
        "tablet": InstrumentForm(formdata=None, prefix="tablet"),
        "link": InstrumentForm(formdata=None, prefix="link"),
    }


@bp.route("/patients/<int:patient_id>/responses")
@requires(Permission.READ)
def patient_responses(patient_id: int) -> Any:
    patient = services.get_patient(patient_id)
    responses = services.list_responses(patient.id, viewer_id=current_user.id, limit=100)
    return render_template(
        "outcomes/patient_responses.html",
        patient=patient,
        responses=responses,
        choose=_choosers(),
        new_link=None,
    )


@bp.route("/patients/<int:patient_id>/responses/new", methods=["GET", "POST"])
@requires(Permission.ENTER_RESPONSES)
def response_new(patient_id: int) -> Any:
    """Staff enter a paper questionnaire (or read the items aloud) on the chart."""
    chooser = InstrumentForm(request.args, meta={"csrf": False})
    code = chooser.instrument.data if chooser.validate() else "PHQ-9"
    instrument = services.instrument_or_invalid(code or "PHQ-9")
    form = staff_questionnaire_form(instrument)
    if form.validate_on_submit():
        local = form.administered_at.data
        try:
            response = services.record_response(
                patient_id,
                instrument.code,
                answers_of(form, instrument),
                None,
                ResponseSource.STAFF,
                current_user.id,
                administered_at=local.replace(tzinfo=clock.clinic_tz()) if local else None,
            )
        except DomainError as error:
            show_refusal(form, error)
        else:
            flash(_saved_message(instrument, response), "warning" if response.flags else "success")
            return redirect(url_for("outcomes.patient_responses", patient_id=patient_id))
    patient = view_patient(
        patient_id, actor_id=current_user.id, section="response_entry", whole_record=False
    )
    status = 422 if request.method == "POST" else 200
    return (
        render_template(
            "outcomes/response_new.html",
            patient=patient,
            instrument=instrument,
            form=form,
            chooser=chooser,
        ),
        status,
    )


def _saved_message(instrument: Instrument, response: QuestionnaireResponse) -> str:
    text = f"{instrument.code} saved: score {response.display_score}"
    if response.severity:
        text += f" ({response.severity})"
    if _flagged(response):
        text += ". Item 9 is above 0: an urgent alert was opened for the clinician."
    return text


SEND_CHANNELS = {"sms": "text message", "email": "email"}


@bp.route("/patients/<int:patient_id>/questionnaire-links", methods=["POST"])
@requires(Permission.ENTER_RESPONSES)
def link_new(patient_id: int) -> Any:
    """Create a link and show its URL once (it is not stored in readable form), or send
    it to the patient by text or email (`send`), which is what staff usually want."""
    patient = services.get_patient(patient_id)
    instrument = _chosen_instrument("link")
    if instrument is None:
        return _choose_a_questionnaire(patient.id)
    send = request.form.get("send")
    if send in SEND_CHANNELS:
        back = safe_local_url(request.form.get("next")) or url_for(
            "outcomes.patient_responses", patient_id=patient.id
        )
        address = patient.address_for(send)
        if address is None:
            flash(f"{patient.full_name} has no {SEND_CHANNELS[send]} consent or address.", "error")
            return redirect(back)
        services.create_link(
            patient.id, instrument, actor_id=current_user.id, deliver=True, channel=send
        )
        flash(f"{instrument} link queued by {SEND_CHANNELS[send]} to {address}.", "success")
        return redirect(back)
    link, url = services.create_link(patient.id, instrument, actor_id=current_user.id)
    responses = services.list_responses(patient.id, viewer_id=current_user.id, limit=100)
    return (
        render_template(
            "outcomes/patient_responses.html",
            patient=patient,
            responses=responses,
            choose=_choosers(),
            new_link={"url": url, "expires_at": link.expires_at, "instrument": link.instrument},
        ),
        201,
    )


# The clinic report ----------------------------------------------------------------------


def _report() -> tuple[ReportFilterForm, dict[str, Any]]:
    """The report the page and its CSV show: of the chosen site (`site_id`: 404 unknown,
    403 not the user's), else of every site the user works at."""
    form = ReportFilterForm(request.args)
    start, end = clinic_report.default_range()
    if form.validate():
        start = form.start.data or start
        end = form.end.data or end
    if end < start:
        start, end = end, start
    chosen = site_arg()
    visible = sites.visible_sites(current_user.id, chosen)
    figures = clinic_report.outcome_report(start, end, visible)
    figures["site_id"] = chosen
    return form, figures


def _site_choices() -> list[Any]:
    """The sites the user may pick: theirs, or every site."""
    allowed = sites.user_site_ids(current_user.id)
    return [site for site in sites.list_sites() if allowed is None or site.id in allowed]


@bp.route("/outcomes")
@requires(Permission.READ)
def report() -> Any:
    form, figures = _report()
    page = render_template(
        "outcomes/report.html", form=form, report=figures, site_choices=_site_choices()
    )
    return page, (422 if form.errors else 200)


@bp.route("/outcomes.csv")
@requires(Permission.READ)
def report_csv() -> Response:
    _form, figures = _report()
    response = make_response(registry_csv(figures))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    site = f"-site-{figures['site_id']}" if figures["site_id"] else ""
    response.headers["Content-Disposition"] = (
        f'attachment; filename="outcomes-{figures["from"].isoformat()}-'
        f'{figures["to"].isoformat()}{site}.csv"'
    )
    return response

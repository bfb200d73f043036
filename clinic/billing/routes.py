"""Billing pages: the fee schedule (admin), the authorization worklist, packets and
letters. Thin: parse, call one service, redirect."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from clinic.billing import bp, fees, packets
from clinic.billing.forms import FeeForm
from clinic.billing.worklist import authorization_worklist
from clinic.errors import Conflict, DomainError
from clinic.forms import flash_refusal, show_refusal
from clinic.pdf import pdf_response
from clinic.permissions import Permission, requires
from clinic.scheduling import sites
from clinic.scheduling.site_routes import site_arg, site_choices


@bp.route("/fees", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_fees() -> Any:
    form = FeeForm()
    if form.validate_on_submit():
        try:
            entry = fees.set_fee(
                form.payer.data or "", form.cpt.data, form.amount.data, actor_id=current_user.id
            )
        except DomainError as error:
            show_refusal(form, error)
        else:
            flash(f"{entry.payer} {entry.cpt}: {entry.amount}.", "success")
            return redirect(url_for("billing.admin_fees"))
    return render_template("billing/fees.html", form=form, fees=fees.list_fees()), (
        422 if form.errors or form.form_errors else 200
    )


@bp.route("/fees/<int:fee_id>/delete", methods=["POST"])
@requires(Permission.ADMINISTER)
def delete_fee(fee_id: int) -> Any:
    try:
        fees.delete_fee(fee_id, actor_id=current_user.id)
    except DomainError as error:
        flash_refusal(error)
    else:
        flash("Fee removed.", "success")
    return redirect(url_for("billing.admin_fees"))


@bp.route("/authorizations")
@requires(Permission.BILLING)
def authorizations() -> Any:
    """The front desk's worklist: waiting, expiring, running out of sessions; of every
    site the user works at, or of the one picked (like the exports: billing spans sites,
    so no single site is forced on it)."""
    site_id = site_arg()
    return render_template(
        "billing/authorizations.html",
        worklist=authorization_worklist(sites.visible_sites(current_user.id, site_id)),
        site_id=site_id,
        site_choices=site_choices(),
    )


@bp.route("/courses/<int:course_id>/authorization-packet.pdf")
@requires(Permission.READ_PACKETS)
def authorization_packet(course_id: int) -> Any:
    body = packets.authorization_packet_pdf(course_id, actor_id=current_user.id)
    return pdf_response(body, f"authorization-packet-{course_id}.pdf")


@bp.route("/courses/<int:course_id>/extension-letter.pdf")
@requires(Permission.READ_PACKETS)
def extension_letter(course_id: int) -> Any:
    """A refused letter (not improved enough) says why on the worklist it was asked from."""
    try:
        body = packets.extension_letter_pdf(course_id, actor_id=current_user.id)
    except Conflict as error:
        flash_refusal(error)
        return redirect(url_for("billing.authorizations"))
    return pdf_response(body, f"extension-letter-{course_id}.pdf")

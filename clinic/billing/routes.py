"""Billing pages: the fee schedule (admin). Thin: parse, call one service, redirect."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from clinic.billing import bp, fees
from clinic.billing.forms import FeeForm
from clinic.errors import DomainError
from clinic.forms import flash_refusal, show_refusal
from clinic.permissions import Permission, requires


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

"""Admin pages of a clinic group: its sites, and which sites a staff member works at.

The user's own page (auth) sits below scheduling and cannot show sites; it links here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from clinic.auth.models import User
from clinic.errors import DomainError
from clinic.extensions import db
from clinic.forms import show_refusal
from clinic.permissions import Permission, requires
from clinic.scheduling import bp, sites
from clinic.scheduling.forms import SiteForm, UserSitesForm
from clinic.scheduling.models import Appointment, Site


def site_arg() -> int | None:
    """The `site_id` query argument of a page (None: the first site); 404 when unknown."""
    raw = request.args.get("site_id")
    if not raw:
        return None
    if not raw.isdigit():
        abort(400, "`site_id` must be a number.")
    return sites.get_site(int(raw)).id


def at_site(instant: datetime | None, where: Appointment | Site, fmt: str = "%H:%M") -> str:
    """Jinja filter: an instant on the clock of an appointment's site, or of a site,
    `{{ a.starts_at|at_site(a) }}` (`local_time` would read it on the clinic's)."""
    if instant is None:
        return ""
    tz = sites.appointment_tz(where) if isinstance(where, Appointment) else sites.site_tz(where)
    return instant.astimezone(tz).strftime(fmt)


def page_site(at_site: int | None = None) -> dict[str, Any]:
    """Which site a per-site page shows (the board, the week, Today, the reports):
    `site_id` (or `at_site`, where the page answers a form), else the user's first site;
    and the sites the user may pick. A user limited to other sites gets 403.

    The user's sites and the site list are read in one query; the chosen site is one of
    them, found without a second."""
    allowed, choices = _choices()
    chosen = at_site or site_arg()
    if chosen is not None:
        sites.require_site_in(allowed, chosen)
    site = next((s for s in choices if s.id == chosen), None) if chosen else None
    if site is None:
        # Where the user works when no site is named: their first site, else the first
        # (the list is in id order); an unknown site answers 404 from `get_site`.
        site = choices[0] if choices and chosen is None else sites.get_site(chosen)
    return {"site_id": site.id, "site": site, "site_choices": choices}


def site_choices() -> list[Site]:
    """The sites the user may pick: theirs, or every site."""
    return _choices()[1]


def _choices() -> tuple[set[int] | None, list[Site]]:
    """The sites the user is limited to (None: every site), and those they may pick."""
    every, allowed = sites.sites_for_user(current_user.id)
    return allowed, [site for site in every if allowed is None or site.id in allowed]


@bp.route("/admin/sites", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_sites() -> Any:
    form = SiteForm()
    if form.validate_on_submit():
        try:
            site = sites.create_site(
                name=form.name.data,
                timezone=form.timezone.data,
                holidays=form.holidays.data,
                actor_id=current_user.id,
            )
        except DomainError as refusal:
            show_refusal(form, refusal)
        else:
            flash(f"Added the site {site.name}; set its opening hours next.", "success")
            return redirect(url_for("scheduling.admin_calendar", site_id=site.id))
    return render_template("scheduling/admin_sites.html", form=form, sites=sites.list_sites()), (
        422 if form.errors else 200
    )


@bp.route("/admin/sites/<int:site_id>", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def edit_site(site_id: int) -> Any:
    site = sites.get_site(site_id)
    form = SiteForm(obj=site)
    if form.validate_on_submit():
        try:
            sites.update_site(
                site.id,
                name=form.name.data,
                timezone=form.timezone.data,
                holidays=form.holidays.data,
                actor_id=current_user.id,
            )
        except DomainError as refusal:
            show_refusal(form, refusal)
        else:
            flash(f"Saved {site.name}.", "success")
            return redirect(url_for("scheduling.admin_sites"))
    return render_template("scheduling/edit_site.html", form=form, site=site), (
        422 if form.errors else 200
    )


@bp.route("/admin/users/<int:user_id>/sites", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def user_sites(user_id: int) -> Any:
    user = db.session.get(User, user_id) if 0 < user_id <= sites.MAX_ID else None
    if user is None:
        abort(404)
    form = UserSitesForm()
    form.site_ids.choices = [SelectChoice(site.id, site.name) for site in sites.list_sites()]
    if request.method == "GET":
        form.site_ids.data = sorted(sites.user_site_ids(user.id) or ())
    if form.validate_on_submit():
        try:
            chosen = sites.set_user_sites(
                user.id, form.site_ids.data or [], actor_id=current_user.id
            )
        except DomainError as refusal:
            show_refusal(form, refusal)
            return render_template("scheduling/user_sites.html", form=form, user=user), 422
        flash(
            f"{user.name} works at {len(chosen)} site(s)."
            if chosen
            else f"{user.name} works at every site.",
            "success",
        )
        return redirect(url_for("auth.admin_users"))
    return render_template("scheduling/user_sites.html", form=form, user=user), (
        422 if form.errors else 200
    )

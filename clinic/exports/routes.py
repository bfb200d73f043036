"""The feed URL calendar clients poll (no login: the token is the key) and the exports
page."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template
from flask_login import current_user

from clinic.exports import bp, csv_exports, feeds
from clinic.permissions import Permission, public, requires
from clinic.scheduling import sites
from clinic.scheduling.site_routes import site_arg, site_choices


@bp.route("/feeds/<token>.ics")
@public
def calendar_feed(token: str) -> Any:
    """Public by design: whoever holds the URL sees the chair's times, nothing else."""
    body = feeds.feed_calendar(feeds.feed_by_token(token))
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "no-store"})


@bp.route("/admin/exports")
@requires(Permission.ADMINISTER)
def index() -> Any:
    """The downloads, of every site the admin works at or of the one picked."""
    site_id = site_arg()
    sites.visible_sites(current_user.id, site_id)
    return render_template("exports/index.html", site_id=site_id, site_choices=site_choices())


@bp.route("/admin/exports/<kind>.csv")
@requires(Permission.ADMINISTER)
def download(kind: str) -> Any:
    """The same export as the API's, for a signed-in admin (the API takes only tokens)."""
    if kind not in csv_exports.KINDS:
        abort(404)
    return csv_exports.csv_response(
        kind, actor_id=current_user.id, site_ids=sites.visible_sites(current_user.id, site_arg())
    )

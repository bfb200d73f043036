"""Staff accounts: sign-in, sessions, second factor, API tokens, roles, user admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Request,
    current_app,
    flash,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user
from sqlalchemy.exc import DBAPIError

from clinic import clock
from clinic.db import is_contention
from clinic.extensions import db, login_manager

bp = Blueprint("auth", __name__)

TOTP_EXEMPT_ENDPOINTS = {"auth.totp_setup", "auth.logout", "auth.login", "static"}
LAST_SEEN_KEY = "seen"
COOKIE_GRACE = timedelta(hours=12)
TOKEN_PATHS = ("/api/", "/fhir/")
"""Paths that take a Bearer token and never a cookie session."""


def _load_session_user(user_id: str) -> Any:
    """Cookie sessions are for pages only; the API (and FHIR) must present a token."""
    if request.path.startswith(TOKEN_PATHS):
        return None
    from clinic.auth.services import user_for_session_id

    return user_for_session_id(user_id)


def _load_token_user(req: Request) -> Any:
    """The API's authentication: `Authorization: Bearer <token>` on /api/ and /fhir/
    paths only."""
    if not req.path.startswith(TOKEN_PATHS):
        return None
    scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    from clinic.auth.services import record_token_use, user_for_token

    user, due = user_for_token(token.strip())
    if due is not None:
        try:
            record_token_use(due)
            db.session.commit()  # in its own short transaction
        except DBAPIError as error:
            # Only a convenience (written at most every five minutes): when another
            # writer holds the database (SQLite's lock, a stale read snapshot), the next
            # use records it; the request itself must not fail for it.
            if not is_contention(error):
                raise
            db.session.rollback()
    return user


def _forget_previous_user() -> None:
    """Decide the user afresh for every request.

    Flask-Login caches the user on `g`; when an app context outlives one request (tests
    push one for their whole run, CLI code may too) the previous request's user would
    answer for the next one.
    """
    g.pop("_login_user", None)


def mark_seen() -> None:
    """Start (or restart) the idle clock of this page session."""
    session.permanent = True
    session[LAST_SEEN_KEY] = clock.now().timestamp()


def _expire_idle_session() -> Any:
    """Sign out a page session idle longer than CLINIC_IDLE_TIMEOUT_MINUTES.

    Checked on the server (the cookie's own expiry is only a hint a client may ignore),
    and before anything else looks at the user, so an idle session can do nothing.
    """
    if request.path.startswith(TOKEN_PATHS) or request.endpoint == "static":
        return None
    if not current_user.is_authenticated:
        return None
    seen = session.get(LAST_SEEN_KEY)
    limit = current_app.config["CLINIC_IDLE_TIMEOUT_MINUTES"] * 60
    if not isinstance(seen, (int, float)) or clock.now().timestamp() - seen > limit:
        logout_user()
        session.clear()
        flash("You were signed out after a period of inactivity.", "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    mark_seen()
    return None


def _enforce_role_totp() -> Any:
    """A role that must use a second factor sees only the setup page until it is done."""
    if request.path.startswith(TOKEN_PATHS) or request.endpoint in TOTP_EXEMPT_ENDPOINTS:
        return None
    if not current_user.is_authenticated or current_user.totp_enabled:
        return None
    if current_user.requires_totp:
        flash("Your role requires a second factor. Set it up to continue.", "warning")
        return redirect(url_for("auth.totp_setup"))
    return None


def init_app(app: Flask) -> None:
    from clinic.auth import cli, routes  # noqa: F401  (registers the views)

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_session_user)
    login_manager.request_loader(_load_token_user)
    # The cookie outlives the idle limit by a working day so the server can still read it
    # and say why it signed someone out; the limit itself is the signed `seen` stamp.
    app.permanent_session_lifetime = (
        timedelta(minutes=app.config["CLINIC_IDLE_TIMEOUT_MINUTES"]) + COOKIE_GRACE
    )
    app.before_request(_forget_previous_user)
    app.before_request(_expire_idle_session)
    app.before_request(_enforce_role_totp)
    app.register_blueprint(bp)
    app.cli.add_command(cli.users)

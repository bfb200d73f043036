"""Sign-in, sign-out, the profile page (password, tokens, second factor) and user admin."""

from __future__ import annotations

from typing import Any

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash

from clinic import clock
from clinic.auth import bp, mark_seen
from clinic.auth import services as auth
from clinic.auth.forms import (
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    RolePolicyForm,
    TokenForm,
    TotpForm,
    UserCreateForm,
    UserEditForm,
)
from clinic.auth.models import RolePolicy, User
from clinic.errors import DomainError
from clinic.extensions import db
from clinic.forms import show_refusal
from clinic.navigation import nav_items, safe_local_url
from clinic.permissions import Permission, Role, public, requires
from clinic.transaction import keep_writes_on_refusal

PENDING_TOTP_KEY = "pending_totp_user"
PENDING_TOTP_SECONDS = 5 * 60  # time to type the code after the password


def _start_session(user: User) -> Any:
    next_url = safe_local_url(request.args.get("next"))
    session.clear()
    login_user(user)
    mark_seen()
    flash(f"Welcome, {user.name}.", "success")
    return redirect(next_url or url_for("auth.home"))


@bp.route("/")
@requires(Permission.AUTHENTICATED)
def home() -> Any:
    """Send each role to its working page (the first menu entry it can see)."""
    items = [item for item in nav_items() if item.url != url_for("auth.home")]
    if items:
        return redirect(items[0].url)
    return redirect(url_for("auth.profile"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        result = auth.authenticate(
            form.email.data or "", form.password.data or "", request.remote_addr or "", None
        )
        if result.user is not None and result.needs_totp:
            session[PENDING_TOTP_KEY] = [result.user.get_id(), clock.now().timestamp()]
            return redirect(
                url_for("auth.login_totp", next=safe_local_url(request.args.get("next")))
            )
        if result.user is not None:
            return _start_session(result.user)
        keep_writes_on_refusal()  # the failure counts towards the throttle, and is audited
        flash(result.error or "Sign-in failed.", "error")
        if result.retry_after_seconds:
            headers = {"Retry-After": str(result.retry_after_seconds)}
            return render_template("auth/login.html", form=form), 429, headers
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.route("/login/totp", methods=["GET", "POST"])
@public
def login_totp() -> Any:
    user = _pending_totp_user()
    if user is None:
        session.pop(PENDING_TOTP_KEY, None)
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.login"))
    form = TotpForm()
    if form.validate_on_submit():
        if auth.throttled(user.email, request.remote_addr or ""):
            flash("Too many failed sign-ins. Wait 15 minutes and try again.", "error")
            headers = {"Retry-After": str(int(auth.THROTTLE_WINDOW.total_seconds()))}
            return render_template("auth/totp.html", form=form), 429, headers
        if auth.accept_totp(user, form.code.data or ""):
            auth.record_sign_in(user, request.remote_addr or "")
            return _start_session(user)
        auth.record_totp_failure(user, request.remote_addr or "")
        keep_writes_on_refusal()  # the failure counts towards the throttle, and is audited
        flash("Wrong or expired code.", "error")
        return render_template("auth/totp.html", form=form), 401
    return render_template("auth/totp.html", form=form)


def _pending_totp_user() -> User | None:
    """The user who gave the right password moments ago and still owes a code."""
    pending = session.get(PENDING_TOTP_KEY)
    if not isinstance(pending, list) or len(pending) != 2:
        return None
    session_id, since = pending
    if (
        not isinstance(since, (int, float))
        or clock.now().timestamp() - since > PENDING_TOTP_SECONDS
    ):
        return None
    return auth.user_for_session_id(session_id)


@bp.route("/logout", methods=["POST"])
@requires(Permission.AUTHENTICATED)
def logout() -> Any:
    """Sign out here and end every other session of this user as well."""
    user = current_user._get_current_object()
    auth.sign_out(user)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/profile")
@requires(Permission.AUTHENTICATED)
def profile() -> Any:
    return _render_profile()


def _render_profile(new_token: str | None = None, status: int = 200, **forms: Any) -> Any:
    return (
        render_template(
            "auth/profile.html",
            user=current_user,
            password_form=forms.get("password_form") or PasswordChangeForm(),
            token_form=forms.get("token_form") or TokenForm(),
            new_token=new_token,
            totp_required=auth.role_requires_totp(current_user.role),
        ),
        status,
    )


@bp.route("/profile/password", methods=["POST"])
@requires(Permission.AUTHENTICATED)
def change_password() -> Any:
    form = PasswordChangeForm()
    user = current_user._get_current_object()
    if not form.validate_on_submit():
        return _render_profile(status=422, password_form=form)
    if not check_password_hash(user.password_hash, form.current_password.data or ""):
        form.current_password.errors = ["That is not your current password."]
        return _render_profile(status=422, password_form=form)
    auth.change_password(user, form.new_password.data or "", actor_id=user.id)
    login_user(user)  # this session carries on with the new session token
    flash("Password changed. Your other sessions were signed out.", "success")
    return redirect(url_for("auth.profile"))


@bp.route("/profile/tokens", methods=["POST"])
@requires(Permission.AUTHENTICATED)
def create_token() -> Any:
    form = TokenForm()
    if not form.validate_on_submit():
        return _render_profile(status=422, token_form=form)
    token = auth.create_token(current_user._get_current_object(), form.label.data or "")
    return _render_profile(new_token=token, status=201)


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@requires(Permission.AUTHENTICATED)
def revoke_token(token_id: int) -> Any:
    user = current_user._get_current_object()
    auth.revoke_token(user, token_id, actor_id=user.id)
    flash("Token revoked.", "success")
    return redirect(url_for("auth.profile"))


@bp.route("/profile/totp", methods=["GET", "POST"])
@requires(Permission.AUTHENTICATED)
def totp_setup() -> Any:
    """Show a fresh secret (kept pending on the user until a code proves the app has it)."""
    user = current_user._get_current_object()
    if user.totp_enabled:
        # The secret is shown only while setting up: never again once it guards sign-in.
        flash("Your second factor is already on. Remove it first to set up a new one.", "info")
        return redirect(url_for("auth.profile"))
    form = TotpForm()
    if request.method == "GET" or not user.totp_secret:
        user.totp_secret = auth.new_totp_secret()
    elif form.validate_on_submit():
        try:
            auth.enable_totp(user, user.totp_secret, form.code.data or "")
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash("Second factor enabled.", "success")
            return redirect(url_for("auth.profile"))
    secret = user.totp_secret or ""
    uri = auth.totp_uri(user, secret, current_app.config["CLINIC_NAME"])
    status = 422 if form.errors else 200
    return render_template("auth/totp_setup.html", form=form, secret=secret, uri=uri), status


@bp.route("/profile/totp/disable", methods=["POST"])
@requires(Permission.AUTHENTICATED)
def totp_disable() -> Any:
    user = current_user._get_current_object()
    auth.disable_totp(user, actor_id=user.id)
    flash("Second factor removed.", "info")
    return redirect(url_for("auth.profile"))


@bp.route("/admin")
@requires(Permission.ADMINISTER)
def admin_index() -> Any:
    return render_template("auth/admin_index.html")


@bp.route("/admin/users")
@requires(Permission.ADMINISTER)
def admin_users() -> Any:
    users = db.session.scalars(select(User).order_by(User.active.desc(), User.name)).all()
    return render_template("auth/admin_users.html", users=users)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_user_new() -> Any:
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = auth.create_user(
                email=form.email.data or "",
                name=form.name.data or "",
                role=form.role.data or "",
                password=form.password.data or "",
                actor_id=current_user.id,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash(f"User {user.email} created.", "success")
            return redirect(url_for("auth.admin_users"))
    status = 422 if form.errors else 200
    return render_template("auth/admin_user_new.html", form=form), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_user_edit(user_id: int) -> Any:
    user = auth.get_user(user_id)
    form = UserEditForm(obj=user)
    if form.validate_on_submit():
        try:
            auth.update_user(
                user,
                name=form.name.data or "",
                role=form.role.data or "",
                actor_id=current_user.id,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash("User saved.", "success")
            return redirect(url_for("auth.admin_users"))
    status = 422 if form.errors else 200
    return (
        render_template(
            "auth/admin_user_edit.html", user=user, form=form, reset_form=PasswordResetForm()
        ),
        status,
    )


@bp.route("/admin/users/<int:user_id>/active", methods=["POST"])
@requires(Permission.ADMINISTER)
def admin_user_active(user_id: int) -> Any:
    user = auth.get_user(user_id)
    auth.set_active(user, request.form.get("active") == "1", actor_id=current_user.id)
    flash(f"{user.name} is now {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("auth.admin_user_edit", user_id=user.id))


@bp.route("/admin/users/<int:user_id>/reset", methods=["POST"])
@requires(Permission.ADMINISTER)
def admin_user_reset(user_id: int) -> Any:
    user = auth.get_user(user_id)
    form = PasswordResetForm()
    if not form.validate_on_submit():
        edit_form = UserEditForm(obj=user)
        return (
            render_template(
                "auth/admin_user_edit.html", user=user, form=edit_form, reset_form=form
            ),
            422,
        )
    auth.change_password(user, form.new_password.data or "", actor_id=current_user.id)
    auth.disable_totp(user, actor_id=current_user.id)
    flash(f"Password reset for {user.name}; their sessions were ended.", "success")
    return redirect(url_for("auth.admin_user_edit", user_id=user.id))


@bp.route("/admin/policy", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_policy() -> Any:
    policies = {p.role: p for p in db.session.scalars(select(RolePolicy))}
    form = RolePolicyForm()
    if form.validate_on_submit():
        for role in Role:
            wanted = bool(getattr(form, f"require_totp_{role.value}").data)
            auth.set_role_policy(role.value, require_totp=wanted, actor_id=current_user.id)
        flash("Security policy saved.", "success")
        return redirect(url_for("auth.admin_policy"))
    if request.method == "GET":
        for role in Role:
            policy = policies.get(role.value)
            getattr(form, f"require_totp_{role.value}").data = bool(policy and policy.require_totp)
    return render_template("auth/admin_policy.html", form=form)

"""The TMS clinic application: `create_app()` builds a configured Flask app."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from clinic import extensions, i18n
from clinic.api import init_api
from clinic.api.guards import install_id_converter
from clinic.db import configure_engine, engine_options
from clinic.errors import Invalid
from config import PROJECT_ROOT, ConfigError, load_config

# Feature packages, in dependency order (`web` composes the others' pages: last). Each
# exposes `init_app(app)` and, where it has a part of the JSON API, `api.blp` (a
# flask-smorest Blueprint).
FEATURES: tuple[str, ...] = (
    "auth",
    "audit",
    "patients",
    "documents",
    "courses",
    "scheduling",
    "alerts",
    "treatments",
    "outcomes",
    "reminders",
    "billing",
    "web",
    "exports",
    "fhir",
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'self'; object-src 'none'"
)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app; a bad setting stops start-up with one line naming the variable."""
    try:
        config = load_config()
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
    config.update(overrides or {})

    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    app.config.update(config)
    install_id_converter(app)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"],
        app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
        pgbouncer=app.config["CLINIC_PGBOUNCER"],
    )
    _trust_proxies(app, app.config["CLINIC_PROXY_COUNT"])

    import clinic.models  # noqa: F401  (the whole schema, for Alembic)

    extensions.db.init_app(app)
    with app.app_context():
        configure_engine(extensions.db.engine)
    extensions.migrate.init_app(app, extensions.db, directory=str(PROJECT_ROOT / "migrations"))
    extensions.csrf.init_app(app)
    extensions.login_manager.init_app(app)
    i18n.init_app(app)

    from clinic import monitoring
    from clinic.api import routes as api_routes
    from clinic.errors import register_error_handlers

    monitoring.init_app(app)  # first: every later hook logs under the request's id
    register_error_handlers(app)
    _install_request_hooks(app)
    api_blueprints = [api_routes.blp]
    for name in FEATURES:
        feature = importlib.import_module(f"clinic.{name}")
        feature.init_app(app)
        try:
            api_module = importlib.import_module(f"clinic.{name}.api")
        except ModuleNotFoundError as exc:
            if exc.name != f"clinic.{name}.api":
                raise
        else:
            api_blueprints.append(api_module.blp)
    init_api(app, api_blueprints)

    from clinic import cli, scheduler, templating, transaction

    cli.init_app(app)
    scheduler.init_app(app)
    templating.init_app(app)
    transaction.install(app)
    return app


def _trust_proxies(app: Flask, count: int) -> None:
    """Behind `count` reverse proxies, take the client's address, scheme and host from
    their X-Forwarded-* headers (the audit and the sign-in throttle need the real
    address). Only that many hops are trusted: a client cannot forge its way past them."""
    if count > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )


def _install_request_hooks(app: Flask) -> None:
    """Hooks every request needs before any feature looks at it (registered first)."""
    from clinic.audit.services import request_address

    @app.before_request
    def remember_address() -> None:
        request_address.set(request.remote_addr)

    @app.teardown_request
    def forget_address(_error: BaseException | None) -> None:
        """A later service call outside a request (CLI, job, test) must not inherit it."""
        request_address.set(None)

    @app.before_request
    def refuse_nul_characters() -> None:
        """PostgreSQL cannot store NUL in text: refuse it at the door as invalid input
        (422, like any other bad value) instead of a database error inside a service."""
        values = [request.path, *request.args.keys(), *request.args.values()]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [*request.form.keys(), *request.form.values()]
        if any("\x00" in value for value in values) or (
            request.is_json and b"\\u0000" in request.get_data()
        ):
            raise Invalid("The request contains a NUL character, which is not allowed.")

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["ENV_NAME"] == "production":
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        return response

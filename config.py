"""Settings read from the environment (and a `.env` file), validated once at start-up.

Every bad value raises `ConfigError` with one line naming the variable, so the app
stops with a clear message instead of a traceback deep inside a request.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

ENVIRONMENTS = ("development", "production", "testing")
EMAIL_BACKENDS = ("console", "smtp")
SMS_BACKENDS = ("console", "twilio")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


def _env(environ: dict[str, str], name: str, default: str | None = None) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _choice(environ: dict[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = _env(environ, name, default) or default
    if value not in choices:
        raise ConfigError(f"{name}: unknown value {value!r}; expected one of {', '.join(choices)}")
    return value


def _database_url(environ: dict[str, str], instance_dir: Path) -> str:
    value = _env(environ, "CLINIC_DATABASE_URL")
    if value is None:
        instance_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{instance_dir / 'clinic.db'}"
    try:
        url = make_url(value)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"CLINIC_DATABASE_URL: cannot parse {value!r} as a database URL") from exc
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"CLINIC_DATABASE_URL: unsupported database {url.get_backend_name()!r}; "
            "use sqlite:/// or postgresql+psycopg://"
        )
    if url.get_backend_name() == "postgresql":
        # A bare postgresql:// means SQLAlchemy's default driver, which differs by version:
        # name psycopg (3, the one installed) explicitly.
        if url.drivername == "postgresql":
            return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        if url.get_driver_name() != "psycopg":
            raise ConfigError("CLINIC_DATABASE_URL: use the psycopg driver (postgresql+psycopg://)")
    return value


def _timezone(environ: dict[str, str]) -> str:
    value = _env(environ, "CLINIC_TIMEZONE", "America/New_York") or "America/New_York"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"CLINIC_TIMEZONE: unknown time zone {value!r}") from exc
    return value


def holiday_code_error(code: str) -> str | None:
    """Why `code` is not a `holidays` library country (`US`) or subdivision (`US-CA`)
    code nor `none`; None when it is one. Shared by the setting and the sites API."""
    if code == "none":
        return None
    import holidays

    country, _, subdivision = code.partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        return f"unknown holidays code {code!r}; use a country code such as US, or none"
    if subdivision and subdivision not in supported[country]:
        return f"unknown subdivision {subdivision!r} of {country} in {code!r}"
    return None


def _holidays(environ: dict[str, str]) -> str:
    value = _env(environ, "CLINIC_HOLIDAYS", "US") or "US"
    problem = holiday_code_error(value)
    if problem:
        raise ConfigError(f"CLINIC_HOLIDAYS: {problem}")
    return value


def _base_url(environ: dict[str, str]) -> str:
    value = _env(environ, "CLINIC_BASE_URL", "http://127.0.0.1:5000") or ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"CLINIC_BASE_URL: {value!r} is not an absolute http(s) URL")
    return value.rstrip("/")


def parse_smtp_url(value: str) -> dict[str, Any]:
    """Split `smtp://user:pass@host:port?starttls=1` into connection settings."""
    parts = urlsplit(value)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            f"CLINIC_SMTP_URL: {value!r} is not smtp://host:port or smtps://host:port"
        )
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError as exc:
        raise ConfigError(f"CLINIC_SMTP_URL: bad port in {value!r}") from exc
    query = parse_qs(parts.query)
    return {
        "host": parts.hostname,
        "port": port,
        "username": parts.username,
        "password": parts.password,
        "ssl": parts.scheme == "smtps",
        "starttls": query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
    }


def _secret_key(environ: dict[str, str], env: str, instance_dir: Path) -> str:
    value = _env(environ, "CLINIC_SECRET_KEY")
    if value:
        if env == "production" and len(value) < 32:
            raise ConfigError("CLINIC_SECRET_KEY: must be at least 32 characters in production")
        return value
    if env == "production":
        raise ConfigError("CLINIC_SECRET_KEY: required in production")
    if env == "testing":
        return "testing-secret-key-not-for-production"
    key_file = instance_dir / "secret_key"
    instance_dir.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _int(environ: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _env(environ, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {raw!r} is not a whole number") from exc
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}")
    return value


def _email_from(environ: dict[str, str]) -> str:
    value = _env(environ, "CLINIC_EMAIL_FROM", "clinic@localhost") or ""
    local, _, domain = value.rpartition("<")[2].rstrip(">").partition("@")
    if not local or not domain:
        raise ConfigError(f"CLINIC_EMAIL_FROM: {value!r} is not an email address")
    return value


def read_environment(env_file: Path | None = None) -> dict[str, str]:
    """The process environment laid over the `.env` file: a real variable always wins."""
    from dotenv import dotenv_values

    path = env_file or PROJECT_ROOT / ".env"
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None}
    return {**from_file, **os.environ}


def load_config(
    environ: dict[str, str] | None = None, instance_dir: Path | None = None
) -> dict[str, Any]:
    """Build the Flask config mapping from the environment; raise ConfigError on bad input."""
    if environ is None:
        environ = read_environment()
    instance_dir = instance_dir or INSTANCE_DIR
    env = _choice(environ, "CLINIC_ENV", ENVIRONMENTS, "development")
    email_backend = _choice(environ, "CLINIC_EMAIL_BACKEND", EMAIL_BACKENDS, "console")
    smtp_url = _env(environ, "CLINIC_SMTP_URL")
    if smtp_url is not None:
        parse_smtp_url(smtp_url)
    elif email_backend == "smtp":
        raise ConfigError("CLINIC_SMTP_URL: required when CLINIC_EMAIL_BACKEND=smtp")
    sms_backend = _choice(environ, "CLINIC_SMS_BACKEND", SMS_BACKENDS, "console")
    twilio = {
        "sid": _env(environ, "CLINIC_TWILIO_ACCOUNT_SID"),
        "token": _env(environ, "CLINIC_TWILIO_AUTH_TOKEN"),
        "from": _env(environ, "CLINIC_TWILIO_FROM"),
        "api_base": _env(environ, "CLINIC_TWILIO_API_BASE"),
    }
    if sms_backend == "twilio" and not (twilio["sid"] and twilio["token"] and twilio["from"]):
        raise ConfigError(
            "CLINIC_TWILIO_ACCOUNT_SID: CLINIC_TWILIO_ACCOUNT_SID, CLINIC_TWILIO_AUTH_TOKEN and "
            "CLINIC_TWILIO_FROM are required when CLINIC_SMS_BACKEND=twilio"
        )
    production = env == "production"
    return {
        "ENV_NAME": env,
        "TESTING": env == "testing",
        "SECRET_KEY": _secret_key(environ, env, instance_dir),
        "SQLALCHEMY_DATABASE_URI": _database_url(environ, instance_dir),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "CLINIC_NAME": _env(environ, "CLINIC_NAME", "Clinic"),
        "CLINIC_TIMEZONE": _timezone(environ),
        "CLINIC_HOLIDAYS": _holidays(environ),
        "CLINIC_BASE_URL": _base_url(environ),
        "CLINIC_EMAIL_BACKEND": email_backend,
        "CLINIC_SMTP_URL": smtp_url,
        "CLINIC_EMAIL_FROM": _email_from(environ),
        "CLINIC_SMS_BACKEND": sms_backend,
        "CLINIC_TWILIO": twilio,
        "CLINIC_IDLE_TIMEOUT_MINUTES": _int(environ, "CLINIC_IDLE_TIMEOUT_MINUTES", 30, 1),
        "CLINIC_LINK_TTL_DAYS": _int(environ, "CLINIC_LINK_TTL_DAYS", 7, 1),
        "CLINIC_ALERT_ESCALATION_MINUTES": _int(environ, "CLINIC_ALERT_ESCALATION_MINUTES", 120, 1),
        "CLINIC_MT_MAX_AGE_DAYS": _int(environ, "CLINIC_MT_MAX_AGE_DAYS", 7, 1),
        "CLINIC_PROXY_COUNT": _int(environ, "CLINIC_PROXY_COUNT", 0, 0),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
    }

"""Settings read from the environment (and a `.env` file), validated once at start-up.

Every bad value raises `ConfigError` with one line naming the variable, so the app
stops with a clear message instead of a traceback deep inside a request.
"""

from __future__ import annotations

import os
import re
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
LOG_FORMATS = ("text", "json")


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


# Each dispatch worker may hold two of the pool's 15 connections (its batch's and its
# session's, while a failure is marked).
MAX_DISPATCH_WORKERS = 7


def _dispatch_workers(environ: dict[str, str]) -> int | None:
    """None when unset: the dispatcher chooses by database (clinic.reminders.dispatch)."""
    if _env(environ, "CLINIC_DISPATCH_WORKERS") is None:
        return None
    workers = _int(environ, "CLINIC_DISPATCH_WORKERS", 1, 1)
    if workers > MAX_DISPATCH_WORKERS:
        raise ConfigError(f"CLINIC_DISPATCH_WORKERS: at most {MAX_DISPATCH_WORKERS}")
    return workers


def _email_from(environ: dict[str, str]) -> str:
    value = _env(environ, "CLINIC_EMAIL_FROM", "clinic@localhost") or ""
    local, _, domain = value.rpartition("<")[2].rstrip(">").partition("@")
    if not local or not domain:
        raise ConfigError(f"CLINIC_EMAIL_FROM: {value!r} is not an email address")
    return value


US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
    ]
)
_ADDRESS = re.compile(
    r"^(?P<street>[^,]+),\s*(?P<city>[^,]+),\s*(?P<state>[A-Z]{2})\s+(?P<zip>\d{5}-\d{4})$"
)


def parse_billing_address(value: str) -> dict[str, str]:
    """`street, city, ST 12345-6789` into its parts (the 837P needs the ZIP+4)."""
    match = _ADDRESS.match(value.strip())
    if match is None or match["state"] not in US_STATES:
        raise ConfigError(
            f"CLINIC_BILLING_ADDRESS: {value!r} is not 'street, city, ST 12345-6789' "
            "(a US state code and a ZIP+4)"
        )
    return {
        "street": match["street"].strip(),
        "city": match["city"].strip(),
        "state": match["state"],
        "zip": match["zip"].replace("-", ""),
    }


def _npi_check_digit_ok(npi: str) -> bool:
    """The NPI's Luhn check digit, computed over the prefix 80840 as CMS specifies."""
    digits = [int(d) for d in "80840" + npi]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


def _billing(environ: dict[str, str]) -> dict[str, Any]:
    """The billing provider of claims and superbills; every part is optional until a
    claim is written, but a part that is given must be well formed."""
    npi = _env(environ, "CLINIC_BILLING_NPI")
    if npi is not None and not (re.fullmatch(r"\d{10}", npi) and _npi_check_digit_ok(npi)):
        raise ConfigError(f"CLINIC_BILLING_NPI: {npi!r} is not a valid 10-digit NPI")
    tax_id = _env(environ, "CLINIC_BILLING_TAX_ID")
    if tax_id is not None:
        if not re.fullmatch(r"\d{2}-?\d{7}", tax_id):
            raise ConfigError(f"CLINIC_BILLING_TAX_ID: {tax_id!r} is not a 9-digit EIN")
        tax_id = tax_id.replace("-", "")
    address = _env(environ, "CLINIC_BILLING_ADDRESS")
    return {
        "npi": npi,
        "tax_id": tax_id,
        "name": _env(environ, "CLINIC_BILLING_NAME"),
        "address": parse_billing_address(address) if address is not None else None,
        # ISA08/GS03: who receives the interchange (the clearinghouse's id for the clinic).
        "receiver_id": _env(environ, "CLINIC_BILLING_RECEIVER_ID", "CLEARINGHOUSE"),
    }


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
    max_upload_mb = _int(environ, "CLINIC_MAX_UPLOAD_MB", 20, 1)
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
        "CLINIC_DISPATCH_WORKERS": _dispatch_workers(environ),
        "CLINIC_LOG_FORMAT": _choice(environ, "CLINIC_LOG_FORMAT", LOG_FORMATS, "text"),
        "CLINIC_PGBOUNCER": _choice(environ, "CLINIC_PGBOUNCER", ("0", "1"), "0") == "1",
        "CLINIC_METRICS_TOKEN": _env(environ, "CLINIC_METRICS_TOKEN"),
        "CLINIC_BILLING": _billing(environ),
        "CLINIC_MAX_UPLOAD_MB": max_upload_mb,
        "CLINIC_DOCUMENT_STORE": _env(environ, "CLINIC_DOCUMENT_STORE")
        or str(instance_dir / "documents"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # The largest upload plus room for the multipart envelope and its other fields.
        "MAX_CONTENT_LENGTH": (max_upload_mb + 1) * 1024 * 1024,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
    }

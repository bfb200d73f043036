"""Settings (CONTRACT.md section 2): defaults, the .env file, and one clear line for a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import PROJECT_ROOT, ConfigError, load_config, read_environment

CONTRACT_DEFAULTS = {
    "CLINIC_NAME": "Clinic",
    "CLINIC_TIMEZONE": "America/New_York",
    "CLINIC_BASE_URL": "http://127.0.0.1:5000",
    "CLINIC_EMAIL_BACKEND": "console",
    "CLINIC_SMTP_URL": None,
    "CLINIC_EMAIL_FROM": "clinic@localhost",
    "CLINIC_SMS_BACKEND": "console",
    "CLINIC_IDLE_TIMEOUT_MINUTES": 30,
    "CLINIC_HOLIDAYS": "US",
}


def test_every_setting_has_the_contracts_default(tmp_path: Path) -> None:
    config = load_config({}, instance_dir=tmp_path)
    assert config["ENV_NAME"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'clinic.db'}"
    for name, default in CONTRACT_DEFAULTS.items():
        assert config[name] == default, name
    assert config["CLINIC_PROXY_COUNT"] == 0  # no proxy trusted unless configured
    assert config["CLINIC_DISPATCH_WORKERS"] is None  # chosen by database at dispatch


def test_every_setting_is_read_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "CLINIC_DATABASE_URL": "postgresql://clinic@db.internal/clinic",
        "CLINIC_SECRET_KEY": "s" * 40,
        "CLINIC_ENV": "production",
        "CLINIC_NAME": "Lakeside TMS",
        "CLINIC_TIMEZONE": "Europe/Berlin",
        "CLINIC_BASE_URL": "https://tms.example.org/",
        "CLINIC_EMAIL_BACKEND": "smtp",
        "CLINIC_SMTP_URL": "smtps://user:pw@mail.example.org:465",
        "CLINIC_EMAIL_FROM": "Lakeside <desk@example.org>",
        "CLINIC_SMS_BACKEND": "twilio",
        "CLINIC_TWILIO_ACCOUNT_SID": "AC1",
        "CLINIC_TWILIO_AUTH_TOKEN": "tok",
        "CLINIC_TWILIO_FROM": "+15550100",
        "CLINIC_IDLE_TIMEOUT_MINUTES": "15",
        "CLINIC_PROXY_COUNT": "2",
        "CLINIC_DISPATCH_WORKERS": "3",
        "CLINIC_HOLIDAYS": "DE-BE",
    }
    config = load_config(environ, instance_dir=tmp_path)
    assert config["CLINIC_HOLIDAYS"] == "DE-BE"
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://clinic@db.internal/clinic"
    assert config["SECRET_KEY"] == "s" * 40
    assert config["ENV_NAME"] == "production" and config["SESSION_COOKIE_SECURE"]
    assert config["CLINIC_NAME"] == "Lakeside TMS"
    assert config["CLINIC_TIMEZONE"] == "Europe/Berlin"
    assert config["CLINIC_BASE_URL"] == "https://tms.example.org"
    assert config["CLINIC_EMAIL_BACKEND"] == "smtp"
    assert config["CLINIC_SMTP_URL"] == "smtps://user:pw@mail.example.org:465"
    assert config["CLINIC_EMAIL_FROM"] == "Lakeside <desk@example.org>"
    assert config["CLINIC_SMS_BACKEND"] == "twilio"
    assert config["CLINIC_TWILIO"]["from"] == "+15550100"
    assert config["CLINIC_IDLE_TIMEOUT_MINUTES"] == 15
    assert config["CLINIC_PROXY_COUNT"] == 2
    assert config["CLINIC_DISPATCH_WORKERS"] == 3
    assert not list(tmp_path.iterdir())  # production never writes a key file


def test_secret_key_is_generated_once_into_instance_outside_production(tmp_path: Path) -> None:
    first = load_config({}, instance_dir=tmp_path)["SECRET_KEY"]
    assert len(first) >= 32
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert load_config({}, instance_dir=tmp_path)["SECRET_KEY"] == first


def test_dot_env_file_is_read_and_the_real_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CLINIC_NAME='From Dotenv'\nCLINIC_TIMEZONE=Europe/Paris\n")
    monkeypatch.delenv("CLINIC_NAME", raising=False)
    monkeypatch.setenv("CLINIC_TIMEZONE", "Asia/Tokyo")
    environ = read_environment(env_file)
    config = load_config(environ, instance_dir=tmp_path)
    assert config["CLINIC_NAME"] == "From Dotenv"
    assert config["CLINIC_TIMEZONE"] == "Asia/Tokyo"
    assert read_environment(tmp_path / "missing.env")["CLINIC_TIMEZONE"] == "Asia/Tokyo"


BAD_SETTINGS = [
    ("CLINIC_DATABASE_URL", "::not a url::"),
    ("CLINIC_DATABASE_URL", "mysql://db/clinic"),
    ("CLINIC_TIMEZONE", "Mars/Olympus_Mons"),
    ("CLINIC_EMAIL_BACKEND", "pigeon"),
    ("CLINIC_SMS_BACKEND", "semaphore"),
    ("CLINIC_ENV", "staging"),
    ("CLINIC_SMTP_URL", "http://mail.example.org"),
    ("CLINIC_SMTP_URL", "smtp://mail.example.org:notaport"),
    ("CLINIC_BASE_URL", "not-absolute"),
    ("CLINIC_EMAIL_FROM", "nobody"),
    ("CLINIC_IDLE_TIMEOUT_MINUTES", "soon"),
    ("CLINIC_PROXY_COUNT", "-1"),
    ("CLINIC_PROXY_COUNT", "one"),
    ("CLINIC_DISPATCH_WORKERS", "0"),
    ("CLINIC_DISPATCH_WORKERS", "8"),  # more than the connection pool serves
    ("CLINIC_BILLING_ADDRESS", "12 Main St, Springfield IL 62701"),
    ("CLINIC_BILLING_ADDRESS", "12 Main St, Springfield, IL 62701"),  # no ZIP+4
    ("CLINIC_BILLING_ADDRESS", "12 Main St, Springfield, XX 62701-1234"),
    ("CLINIC_BILLING_NPI", "123456789"),
    ("CLINIC_BILLING_NPI", "1234567890"),  # bad check digit
    ("CLINIC_BILLING_TAX_ID", "12-34567"),
    ("CLINIC_MAX_UPLOAD_MB", "0"),
    ("CLINIC_HOLIDAYS", "Atlantis"),
    ("CLINIC_HOLIDAYS", "US-XX"),
]


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_a_bad_value_is_one_error_naming_the_variable(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({name: value}, instance_dir=tmp_path)
    message = str(raised.value)
    assert message.startswith(f"{name}:") and "\n" not in message


def test_the_billing_identity_is_read_and_split(tmp_path: Path) -> None:
    config = load_config(
        {
            "CLINIC_BILLING_NPI": "1234567893",
            "CLINIC_BILLING_TAX_ID": "12-3456789",
            "CLINIC_BILLING_NAME": "Lakeside TMS LLC",
            "CLINIC_BILLING_ADDRESS": "12 Main St Suite 4, Springfield, IL 62701-1234",
        },
        instance_dir=tmp_path,
    )
    assert config["CLINIC_BILLING"] == {
        "npi": "1234567893",
        "tax_id": "123456789",
        "name": "Lakeside TMS LLC",
        "address": {
            "street": "12 Main St Suite 4",
            "city": "Springfield",
            "state": "IL",
            "zip": "627011234",
        },
        "receiver_id": "CLEARINGHOUSE",
    }
    assert config["CLINIC_MAX_UPLOAD_MB"] == 20
    assert config["CLINIC_DOCUMENT_STORE"] == str(tmp_path / "documents")


def test_production_needs_a_real_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^CLINIC_SECRET_KEY: required"):
        load_config({"CLINIC_ENV": "production"}, instance_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"^CLINIC_SECRET_KEY: must be at least"):
        load_config({"CLINIC_ENV": "production", "CLINIC_SECRET_KEY": "short"}, tmp_path)


def _start(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env.update({"CLINIC_DATABASE_URL": "sqlite:////nonexistent-dir/never-used.db", **environ})
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLINIC_DATABASE_URL", "::not a url::"),
        ("CLINIC_TIMEZONE", "Mars/Olympus_Mons"),
        ("CLINIC_EMAIL_BACKEND", "pigeon"),
        ("CLINIC_SMS_BACKEND", "semaphore"),
        ("CLINIC_ENV", "staging"),
        ("CLINIC_SMTP_URL", "smtp://mail.example.org:notaport"),
        ("CLINIC_PROXY_COUNT", "-1"),
        ("CLINIC_BILLING_ADDRESS", "somewhere"),
        ("CLINIC_HOLIDAYS", "ZZ"),
    ],
)
def test_start_up_stops_with_one_clear_line(name: str, value: str) -> None:
    result = _start({name: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and "Traceback" not in result.stderr


def test_start_up_in_production_without_a_secret_key_stops_clearly() -> None:
    result = _start({"CLINIC_ENV": "production"})
    assert result.returncode != 0
    assert result.stderr.strip() == "error: CLINIC_SECRET_KEY: required in production"

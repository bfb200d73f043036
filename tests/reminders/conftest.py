"""A real SMTP server (aiosmtpd) and a stand-in for Twilio's Messages API, both on
loopback, plus helpers that book reminder-worthy appointments."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller

from clinic import events
from clinic.extensions import db
from clinic.scheduling.models import Appointment
from tests.factories import make_appointment, make_course, make_patient

TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "test-auth-token"
TWILIO_FROM = "+15005550006"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailServer:
    """aiosmtpd on a fixed loopback port that tests can stop ("the mail server is down")
    and start again; it keeps every message it accepted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def references(self) -> list[str]:
        return [m["X-Clinic-Message"] for m in self.messages]

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


class TwilioStub:
    """Answers POST /2010-04-01/Accounts/{sid}/Messages.json like Twilio, recording each."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.fail_with: int | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if stub.fail_with is not None:
                    body = {"code": 20500, "message": "unavailable", "status": stub.fail_with}
                    self._answer(stub.fail_with, body)
                    return
                stub.messages.append({**form, "path": self.path})
                self._answer(
                    201,
                    {
                        "sid": f"SM{len(stub.messages):032d}",
                        "to": form.get("To"),
                        "from": form.get("From"),
                        "body": form.get("Body"),
                        "status": "queued",
                        "account_sid": TWILIO_SID,
                    },
                )

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def twilio_stub() -> Iterator[TwilioStub]:
    stub = TwilioStub()
    stub.thread.start()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture
def app_config(
    app_config: dict[str, Any], mail_server: MailServer, twilio_stub: TwilioStub
) -> dict[str, Any]:
    return {
        **app_config,
        "CLINIC_NAME": "Northside Clinic",
        "CLINIC_EMAIL_BACKEND": "smtp",
        "CLINIC_SMTP_URL": mail_server.url,
        "CLINIC_EMAIL_FROM": "reminders@northside.example",
        "CLINIC_SMS_BACKEND": "twilio",
        "CLINIC_TWILIO": {
            "sid": TWILIO_SID,
            "token": TWILIO_TOKEN,
            "from": TWILIO_FROM,
            "api_base": twilio_stub.url,
        },
    }


_phones = iter(range(2_000_000, 9_999_999))


def reachable_patient(*, email_ok: bool = True, sms_ok: bool = True, **fields: Any) -> Any:
    """A patient who consented to email and SMS and has both addresses."""
    n = next(_phones)
    return make_patient(
        email=fields.pop("email", f"patient{n}@example.org"),
        phone=fields.pop("phone", f"+1617{n:07d}"),
        email_consent=email_ok,
        sms_consent=sms_ok,
        preferred_channel=fields.pop("preferred_channel", "email"),
        **fields,
    )


def book(starts_at: datetime, patient: Any = None, **fields: Any) -> Appointment:
    """An appointment as the scheduling feature makes it: inserted, then announced."""
    patient = patient or reachable_patient()
    course = make_course(patient)
    appointment = make_appointment(course, starts_at, **fields)
    events.appointments_booked.send(None, appointments=[appointment], actor_id=None)
    db.session.commit()
    return appointment


def move(appointment: Appointment, new_start: datetime) -> None:
    old_start, old_device = appointment.starts_at, appointment.device_id
    length = appointment.ends_at - appointment.starts_at
    appointment.starts_at = new_start
    appointment.ends_at = new_start + length
    appointment.revision += 1
    db.session.flush()
    events.appointment_moved.send(
        None,
        appointment=appointment,
        old_starts_at=old_start,
        old_device_id=old_device,
        actor_id=None,
    )
    db.session.commit()


def cancel(appointment: Appointment) -> None:
    appointment.status = "cancelled"
    db.session.flush()
    events.appointment_cancelled.send(None, appointment=appointment, actor_id=None)
    db.session.commit()

"""A real SMTP server (aiosmtpd) and a stand-in for Twilio's Messages API, both on
loopback, plus helpers that book, move and cancel appointments through the scheduling
feature's own services, so the reminders react to the events it really sends."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, time
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import time_machine
from aiosmtpd.controller import Controller

from clinic.extensions import db
from clinic.scheduling import booking_service, lifecycle
from clinic.scheduling.models import Appointment, OpeningHours
from clinic.scheduling.sites import get_site
from tests.factories import make_course, make_device, make_patient

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
        if self._controller is None:
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


# One mail server and one SMS stub a worker, on ports that stay put: the settings name
# them, and settings that stay the same let a test reuse the app an earlier one built
# (`AppShelf`) instead of building its own (about a second a test). Each test starts
# with both empty and answering.


@pytest.fixture(scope="session")
def workers_mail_server() -> Iterator[MailServer]:
    server = MailServer()
    yield server
    server.stop()


@pytest.fixture
def mail_server(workers_mail_server: MailServer) -> MailServer:
    workers_mail_server.messages.clear()
    workers_mail_server.start()
    return workers_mail_server


@pytest.fixture
def frozen() -> Iterator[Any]:
    """The clock stopped at the reminder tests' Monday noon (test_services.NOW)."""
    from tests.reminders.test_services import NOW

    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def workers_twilio_stub() -> Iterator[TwilioStub]:
    stub = TwilioStub()
    stub.thread.start()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture
def twilio_stub(workers_twilio_stub: TwilioStub) -> TwilioStub:
    workers_twilio_stub.messages.clear()
    workers_twilio_stub.fail_with = None
    return workers_twilio_stub


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


def _open_around_the_clock() -> None:
    """Reminder tests book at any hour of any day: the clinic opens all day, every day,
    public holidays included."""
    site = get_site()
    site.holidays = "none"
    for weekday in range(7):
        hours = db.session.get(OpeningHours, (site.id, weekday)) or OpeningHours(
            site_id=site.id, weekday=weekday
        )
        hours.opens_at, hours.closes_at = time(0), time(23, 59)
        db.session.add(hours)


def book(starts_at: datetime, patient: Any = None, kind: str = "treatment") -> Appointment:
    """An appointment booked by the scheduling feature itself (its own events plan the
    reminders), on a chair of its own for a patient of its own."""
    _open_around_the_clock()
    course = make_course(patient or reachable_patient())
    appointment = booking_service.book_appointment(
        course,
        device_id=make_device().id,
        starts_at=starts_at,
        kind=kind,
        actor_id=None,
    )
    db.session.commit()
    return appointment


def move(appointment: Appointment, new_start: datetime) -> None:
    booking_service.move_appointment(appointment.id, starts_at=new_start, actor_id=None)
    db.session.commit()


def cancel(appointment: Appointment) -> None:
    """Cancelled at the front desk (a treatment gets its make-up booked, as in real life)."""
    lifecycle.cancel_appointment(appointment.id, reason=None, actor_id=None)
    db.session.commit()

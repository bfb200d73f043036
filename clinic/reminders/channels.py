"""Delivery channels: email (SMTP or console) and SMS (Twilio or console).

A `Transport` lives for one dispatch batch: it opens at most one SMTP connection and one
Twilio client, lazily, and closes them at the end. Channels raise `DeliveryError`;
`permanent=True` means retrying cannot help (a refused address, an invalid number).
"""

from __future__ import annotations

import base64
import logging
import random
import smtplib
import socket
import ssl
import sys
from dataclasses import dataclass, field
from email.header import Header
from email.message import Message
from email.policy import compat32
from email.utils import formatdate, make_msgid
from functools import lru_cache
from types import TracebackType
from typing import Any, Protocol

from clinic.reminders.models import Channel
from config import parse_smtp_url

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 20
TWILIO_TIMEOUT_SECONDS = 15
# SMTP wants CRLF line ends; smtplib does not fix them in bytes it is given.
SMTP_POLICY = compat32.clone(linesep="\r\n")
# Twilio error codes that will not succeed on retry: unsubscribed, invalid or unreachable number.
TWILIO_PERMANENT_CODES = {21211, 21408, 21610, 21612, 21614}


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Attachment:
    """A text attachment (the .ics calendar file)."""

    filename: str
    mimetype: str
    content: str


@dataclass(frozen=True)
class OutgoingMessage:
    channel: str
    to: str
    text: str
    subject: str = ""
    html: str = ""
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    # Names the outbox row (X-Clinic-Message), for people reading the mail log.
    reference: str = ""
    # Stable per outbox row and appointment time (see sending.message_id): a message sent
    # again after a crash repeats it, so the receiving side can recognise the duplicate.
    message_id: str = ""


class Sender(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...

    def close(self) -> None: ...


def build_email(message: OutgoingMessage, sender: str) -> bytes:
    """multipart/mixed: multipart/alternative (plain text and HTML) plus any attachments
    (the .ics), byte for byte what the compat32 MIME classes and generator write (a test
    holds them side by side), composed directly: the generic generator folds every header
    and compiles a pattern per boundary, and cost more than the send itself."""
    headers = [
        ("From", sender),
        ("To", message.to),
        ("Subject", message.subject if message.subject.isascii() else _encoded(message.subject)),
        ("Date", formatdate(usegmt=True)),
        (
            "Message-ID",
            message.message_id or make_msgid(domain=sender.rpartition("@")[2] or "localhost"),
        ),
    ]
    if message.reference:
        headers.append(("X-Clinic-Message", message.reference))
    texts = [_text_part(message.text, "plain")]
    if message.html:
        texts.append(_text_part(message.html, "html"))
    parts = [_multipart("alternative", [], texts)]
    for attachment in message.attachments:
        parts.append(
            _text_part(
                attachment.content,
                attachment.mimetype.partition("/")[2],
                _disposition(attachment.filename),
            )
        )
    return _multipart("mixed", headers, parts)


_CRLF = b"\r\n"
# A boundary as the compat32 generator makes it: 15 '=', a zero-padded random number, '=='.
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))
_STAND_IN = "B" * (_BOUNDARY_WIDTH + 17)


def _encoded(value: str) -> str:
    return Header(value, "utf-8").encode()


def _header(name: str, value: str) -> bytes:
    """One header line as compat32 folds it; short plain ASCII values are written as is
    (what its folding leaves them), anything else goes through the policy."""
    if (
        len(name) + len(value) <= 76
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
        and "  " not in value
    ):
        return f"{name}: {value}\r\n".encode("ascii")
    return SMTP_POLICY.fold_binary(name, value)


@lru_cache(maxsize=32)
def _disposition(filename: str) -> str:
    """`attachment; filename=...`, quoted (or RFC 2231 encoded) as email.message does."""
    holder = Message()
    holder.add_header("Content-Disposition", "attachment", filename=filename)
    return str(holder["Content-Disposition"])


def _text_part(text: str, subtype: str, disposition: str | None = None) -> bytes:
    """A MIMEText(text, subtype, "utf-8") part: base64 in 76-character lines."""
    head = _text_headers(subtype)
    if disposition is not None:
        head += _header("Content-Disposition", disposition)
    body = base64.encodebytes(text.encode("utf-8")).replace(b"\n", _CRLF)
    return head + _CRLF + body


@lru_cache(maxsize=16)
def _text_headers(subtype: str) -> bytes:
    return (
        _header("Content-Type", f'text/{subtype}; charset="utf-8"')
        + b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n"
    )


@lru_cache(maxsize=16)
def _multipart_type(subtype: str) -> bytes:
    """The Content-Type line of a multipart, folded once with a stand-in boundary of the
    same length (folding depends only on lengths and separators)."""
    return _header("Content-Type", f'multipart/{subtype}; boundary="{_STAND_IN}"')


def _multipart(subtype: str, headers: list[tuple[str, str]], parts: list[bytes]) -> bytes:
    """A multipart of already composed parts under a fresh boundary, as the generator
    writes it (base64 bodies cannot contain the boundary's run of '=')."""
    token = random.randrange(sys.maxsize)
    boundary = f"==============={token:0{_BOUNDARY_WIDTH}d}==".encode("ascii")
    lines = [
        _multipart_type(subtype).replace(_STAND_IN.encode("ascii"), boundary),
        b"MIME-Version: 1.0\r\n",
        *(_header(name, value) for name, value in headers),
        _CRLF,
    ]
    delimiter = b"--" + boundary
    lines.append(delimiter + _CRLF)
    lines.append((_CRLF + delimiter + _CRLF).join(parts))
    lines.append(_CRLF + delimiter + b"--" + _CRLF)
    return b"".join(lines)


class SmtpSender:
    """One SMTP connection for a whole batch; reconnects once if the server drops it."""

    def __init__(self, url: str, sender: str) -> None:
        self.settings = parse_smtp_url(url)
        self.sender = sender
        self._connection: smtplib.SMTP | None = None
        self._unreachable: str | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s["ssl"]:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    s["host"],
                    s["port"],
                    timeout=SMTP_TIMEOUT_SECONDS,
                    context=ssl.create_default_context(),
                )
            else:
                connection = smtplib.SMTP(s["host"], s["port"], timeout=SMTP_TIMEOUT_SECONDS)
                if s["starttls"]:
                    connection.starttls(context=ssl.create_default_context())
            # Each message is several short commands: without this, Nagle's algorithm and
            # delayed acknowledgements add tens of milliseconds to every message.
            if connection.sock is not None:
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if s["username"]:
                connection.login(s["username"], s["password"] or "")
        except (OSError, smtplib.SMTPException) as exc:
            # Remember it: with the server down, every other message of the batch fails fast.
            self._unreachable = f"mail server unreachable: {exc}"
            raise DeliveryError(self._unreachable) from exc
        return connection

    def send(self, message: OutgoingMessage) -> None:
        if self._unreachable:
            raise DeliveryError(self._unreachable)
        email = build_email(message, self.sender)
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = self._connect()
            try:
                self._connection.sendmail(self.sender, [message.to], email)
                return
            except smtplib.SMTPRecipientsRefused as exc:
                raise DeliveryError(f"address refused: {exc}", permanent=True) from exc
            except smtplib.SMTPResponseException as exc:
                raise DeliveryError(
                    f"mail server answered {exc.smtp_code}: {exc.smtp_error!r}",
                    permanent=500 <= exc.smtp_code < 600,
                ) from exc
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._connection = None
                if attempt == 2:
                    raise DeliveryError(f"mail server dropped the connection: {exc}") from exc

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (OSError, smtplib.SMTPException):
                log.warning("SMTP connection did not close cleanly", exc_info=True)
            self._connection = None


class ConsoleSender:
    """Development backend: writes each message to the log and to standard output."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, message: OutgoingMessage) -> None:
        heading = f"--- {self.channel} to {message.to}"
        if message.subject:
            heading += f": {message.subject}"
        names = ", ".join(a.filename for a in message.attachments)
        lines = [heading, message.text.rstrip()]
        if names:
            lines.append(f"[attached: {names}]")
        text = "\n".join(lines) + "\n"
        log.info("%s message to %s", self.channel, message.to)
        sys.stdout.write(text)
        sys.stdout.flush()

    def close(self) -> None:
        """Nothing to close."""


class TwilioSender:
    """Twilio's Messages API through the official client; `api_base` points it elsewhere
    (a local stub in tests, a regional edge in production)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.client = Client(
            settings["sid"],
            settings["token"],
            http_client=TwilioHttpClient(timeout=TWILIO_TIMEOUT_SECONDS),
        )
        if settings.get("api_base"):
            self.client.api.base_url = settings["api_base"].rstrip("/")
        self.sender = settings["from"]

    def send(self, message: OutgoingMessage) -> None:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            self.client.messages.create(to=message.to, from_=self.sender, body=message.text)
        except TwilioRestException as exc:
            permanent = exc.code in TWILIO_PERMANENT_CODES or (
                400 <= exc.status < 500 and exc.status != 429
            )
            raise DeliveryError(
                f"Twilio answered {exc.status} (code {exc.code}): {exc.msg}", permanent=permanent
            ) from exc
        except (TwilioException, OSError) as exc:
            raise DeliveryError(f"Twilio unreachable: {exc}") from exc

    def close(self) -> None:
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()


class Transport:
    """The senders of one batch: `with Transport(config) as transport: transport.send(m)`."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self._senders: dict[str, Sender] = {}

    def _sender(self, channel: str) -> Sender:
        if channel not in self._senders:
            self._senders[channel] = self._build(channel)
        return self._senders[channel]

    def _build(self, channel: str) -> Sender:
        if channel == Channel.EMAIL:
            if self.config["CLINIC_EMAIL_BACKEND"] == "smtp":
                return SmtpSender(self.config["CLINIC_SMTP_URL"], self.config["CLINIC_EMAIL_FROM"])
            return ConsoleSender(Channel.EMAIL)
        if self.config["CLINIC_SMS_BACKEND"] == "twilio":
            return TwilioSender(self.config["CLINIC_TWILIO"])
        return ConsoleSender(Channel.SMS)

    def send(self, message: OutgoingMessage) -> None:
        self._sender(message.channel).send(message)

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sender in self._senders.values():
            sender.close()
        self._senders.clear()

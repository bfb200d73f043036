"""The directly composed email is the one the compat32 MIME classes would write, byte for
byte (boundaries and the Date aside), so receivers see no change from the faster path."""

from __future__ import annotations

import re
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

import pytest

from clinic.reminders.channels import (
    SMTP_POLICY,
    Attachment,
    OutgoingMessage,
    build_email,
)

CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "DESCRIPTION:" + "x" * 200 + "\r\nEND:VCALENDAR\r\n"
)


def _with_mime_classes(message: OutgoingMessage, sender: str) -> bytes:
    email = MIMEMultipart("mixed")
    email["From"] = sender
    email["To"] = message.to
    subject = message.subject
    email["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message.message_id
    if message.reference:
        email["X-Clinic-Message"] = message.reference
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(message.text, "plain", "utf-8"))
    if message.html:
        body.attach(MIMEText(message.html, "html", "utf-8"))
    email.attach(body)
    for attachment in message.attachments:
        part = MIMEText(attachment.content, attachment.mimetype.partition("/")[2], "utf-8")
        part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
        email.attach(part)
    return email.as_bytes(policy=SMTP_POLICY)


def _normalised(raw: bytes) -> bytes:
    raw = re.sub(rb"={15}\d{19}==", b"BOUNDARY", raw)
    return re.sub(rb"Date: [^\r]*\r\n", b"Date: X\r\n", raw)


@pytest.mark.parametrize(
    ("subject", "to", "sender", "text", "html", "attachments"),
    [
        (
            "Your appointment tomorrow",
            "pat@example.org",
            "Clinic <clinic@example.org>",
            "Hello\nSee you at 9:00.\n",
            "<p>Hello</p>",
            (Attachment("appointment.ics", "text/calendar", CALENDAR),),
        ),
        ("Recordatorio: mañana a las 9", "ana@example.org", "c@x.org", "¡Hola! " * 40, "", ()),
        ("A" * 120, "a-very-long-address-" * 4 + "@example.org", "c@x.org", "", "", ()),
        (
            "Two  spaces and trailing ",
            '"Doe, Jane" <jane@example.org>',
            "Clinic  Name <c@x.org>",
            "x",
            "<b>é</b>",
            (Attachment("día.ics", "text/calendar", "BEGIN:VCALENDAR"),),
        ),
    ],
)
def test_the_composed_email_is_what_the_mime_classes_write(
    subject: str, to: str, sender: str, text: str, html: str, attachments: tuple[Attachment, ...]
) -> None:
    message = OutgoingMessage(
        channel="email",
        to=to,
        subject=subject,
        text=text,
        html=html,
        attachments=attachments,
        reference="reminder-7",
        message_id="<reminder-7.1700000000@clinic.example.org>",
    )
    assert _normalised(build_email(message, sender)) == _normalised(
        _with_mime_classes(message, sender)
    )

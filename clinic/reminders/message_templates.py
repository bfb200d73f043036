"""The admin-editable templates of patient messages: reading, previewing and saving them.

A template is checked before it is saved (known placeholders only, nothing clinical in
an SMS), so a message planned later can always be rendered.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select

from clinic import i18n
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.errors import Invalid, NotFound
from clinic.extensions import db
from clinic.reminders import messages
from clinic.reminders.models import Channel, MessageKind, MessageTemplate

SAMPLE_VALUES = {
    "first_name": "Jamie",
    "date": "Monday 9 March 2026",
    "time": "09:00",
    "confirm_url": "https://clinic.example/r/sample/confirm",
    "change_url": "https://clinic.example/r/sample/change",
    "ics_url": "https://clinic.example/r/sample/calendar.ics",
    "questionnaire_url": "https://clinic.example/q/sample",
}


def get_template(kind: str, channel: str) -> MessageTemplate:
    template = db.session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.kind == kind, MessageTemplate.channel == channel
        )
    )
    if template is None:
        raise NotFound(f"No template for {kind} by {channel}.")
    return template


def list_templates() -> Sequence[MessageTemplate]:
    return db.session.scalars(
        select(MessageTemplate).order_by(MessageTemplate.kind, MessageTemplate.channel)
    ).all()


def _check_template(kind: str, channel: str, subject: str, body: str) -> None:
    if kind not in messages.PLACEHOLDERS or channel not in tuple(Channel):
        raise NotFound(f"No template for {kind} by {channel}.")
    problems = messages.validate_template(kind, channel, subject, body)
    if problems:
        raise Invalid("The template cannot be used as written.", fields=problems)


def preview_template(kind: str, channel: str, subject: str, body: str) -> messages.RenderedMessage:
    """The message as a patient would get it, with sample values; Invalid if it cannot be used."""
    _check_template(kind, channel, subject, body)
    values = {**SAMPLE_VALUES, "clinic_name": current_app.config["CLINIC_NAME"]}
    return messages.render(subject, body, values, channel)


def update_template(
    kind: str, channel: str, *, subject: str, body: str, actor_id: int | None
) -> MessageTemplate:
    """Save a template (for messages planned from now on)."""
    _check_template(kind, channel, subject, body)
    template = get_template(kind, channel)
    template.subject = subject.strip() if channel == Channel.EMAIL else ""
    template.body = body.strip() + "\n"
    template.updated_by_id = actor_id
    record(
        actor_id,
        AuditAction.UPDATE,
        "message_template",
        template.id,
        detail={"kind": kind, "channel": channel},
    )
    db.session.flush()
    return template


def default_words(kind: str, channel: str) -> tuple[str, str]:
    """The shipped (subject, body) of a message in the language being spoken.

    The English msgids are the defaults migration 0005 wrote into `message_templates`;
    a test keeps the two equal. The translations live in the Babel catalog.
    """
    words = {
        (MessageKind.APPOINTMENT_REMINDER, Channel.EMAIL): (
            gettext("Your appointment at {clinic_name} on {date}"),
            gettext(
                "Hello {first_name},\n\n"
                "This is a reminder of your appointment at {clinic_name} on {date} at {time}.\n\n"
                "Please confirm that you will come: {confirm_url}\n"
                "Need another time? Ask for a change: {change_url}\n"
                "Add it to your calendar: {ics_url}\n\n"
                "See you soon,\n{clinic_name}\n"
            ),
        ),
        (MessageKind.APPOINTMENT_REMINDER, Channel.SMS): (
            "",
            gettext(
                "{clinic_name}: reminder of your appointment on {date} at {time}. "
                "Confirm: {confirm_url} Change: {change_url} Reply STOP to opt out.\n"
            ),
        ),
        (MessageKind.QUESTIONNAIRE_LINK, Channel.EMAIL): (
            gettext("{clinic_name}: a short questionnaire for you"),
            gettext(
                "Hello {first_name},\n\n"
                "{clinic_name} asks you to fill in a short questionnaire:\n"
                "{questionnaire_url}\n\n"
                "The link works once and expires after a few days. Thank you.\n"
            ),
        ),
        (MessageKind.QUESTIONNAIRE_LINK, Channel.SMS): (
            "",
            gettext("{clinic_name}: please fill in a short form: {questionnaire_url}\n"),
        ),
    }
    return words[(MessageKind(kind), Channel(channel))]


class TemplateCache:
    """Templates looked up once per planning call (a course books dozens of sessions)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], MessageTemplate] = {}

    def render(
        self, kind: str, channel: str, values: dict[str, str], language: str = i18n.ENGLISH
    ) -> messages.RenderedMessage:
        """English messages use the admin's template; other languages the shipped words,
        translated (an admin's edits are in English and cannot be translated for them)."""
        if i18n.supported(language) != i18n.ENGLISH:
            with i18n.speaking(language):
                subject, body = default_words(kind, channel)
            return messages.render(subject, body, values, channel)
        key = (kind, channel)
        if key not in self._cache:
            self._cache[key] = get_template(kind, channel)
        template = self._cache[key]
        return messages.render(template.subject, template.body, values, channel)

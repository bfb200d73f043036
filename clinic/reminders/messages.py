"""Message templates: placeholders, validation, rendering, and the calendar attachment.

An admin edits plain text with {placeholders}; the HTML part of an email is derived from
it (escaped, links made clickable), so no admin-typed HTML ever reaches a patient. Only
bare names from the kind's placeholder list are accepted: `{first_name.__class__}` or a
format spec is refused, so rendering cannot reach anything but the values we pass.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from flask_babel import gettext
from icalendar import Calendar, Event, vCalAddress, vText
from markupsafe import Markup, escape

from clinic.reminders.models import Channel, MessageKind

PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    MessageKind.APPOINTMENT_REMINDER: (
        "clinic_name",
        "first_name",
        "date",
        "time",
        "confirm_url",
        "change_url",
        "ics_url",
    ),
    MessageKind.QUESTIONNAIRE_LINK: ("clinic_name", "first_name", "questionnaire_url"),
}
# An appointment SMS must say who, which day and what time (CONTRACT.md section 5).
REQUIRED_IN_SMS: dict[str, tuple[str, ...]] = {
    MessageKind.APPOINTMENT_REMINDER: ("clinic_name", "date", "time"),
    MessageKind.QUESTIONNAIRE_LINK: ("clinic_name", "questionnaire_url"),
}
# Words that would reveal a diagnosis or treatment on a phone's lock screen.
CLINICAL_WORDS = (
    "tms",
    "rtms",
    "itbs",
    "transcranial",
    "magnetic",
    "stimulation",
    "treatment",
    "therapy",
    "protocol",
    "diagnosis",
    "depression",
    "depressive",
    "anxiety",
    "pain",
    "psychiatric",
    "psychiatry",
    "psychiatrist",
    "mental",
    "suicide",
    "suicidal",
    "dlpfc",
    "phq",
    "gad",
    "peg",
    "seizure",
    "medication",
)
_CLINICAL = re.compile(r"\b(?:" + "|".join(CLINICAL_WORDS) + r")s?\b", re.IGNORECASE)
SMS_MAX_LENGTH = 480  # three concatenated segments
_URL = re.compile(r"https?://[^\s<>\"]+")
_FORMATTER = string.Formatter()


def placeholders_in(text: str) -> list[str]:
    """The field names used in `text`; raises ValueError on broken braces."""
    return [name for _, name, _, _ in _FORMATTER.parse(text) if name is not None]


def clinical_words(text: str) -> list[str]:
    return sorted({match.group(0).lower() for match in _CLINICAL.finditer(text)})


def validate_template(kind: str, channel: str, subject: str, body: str) -> dict[str, list[str]]:
    """Problems per form field (empty when the template may be saved)."""
    allowed = PLACEHOLDERS[kind]
    problems: dict[str, list[str]] = {}
    parts = {"body": body} if channel == Channel.SMS else {"subject": subject, "body": body}
    used: set[str] = set()
    for field, text in parts.items():
        try:
            names = placeholders_in(text)
        except ValueError:
            problems.setdefault(field, []).append(
                "Unbalanced braces: write {name} for a placeholder and {{ or }} for a brace."
            )
            continue
        for name in names:
            if name not in allowed:
                problems.setdefault(field, []).append(
                    f"Unknown placeholder {{{name}}}; use one of "
                    + ", ".join(f"{{{p}}}" for p in allowed)
                    + "."
                )
        used.update(names)
        if any(spec or conv for _, name, spec, conv in _FORMATTER.parse(text) if name):
            problems.setdefault(field, []).append("Placeholders take no format: write {name}.")
    if not body.strip():
        problems.setdefault("body", []).append("The message may not be empty.")
    if channel == Channel.EMAIL and not subject.strip():
        problems.setdefault("subject", []).append("An email needs a subject.")
    if channel == Channel.SMS:
        found = clinical_words(body)
        if found:
            problems.setdefault("body", []).append(
                "A text message may carry nothing clinical; remove: " + ", ".join(found) + "."
            )
        missing = [name for name in REQUIRED_IN_SMS[kind] if name not in used]
        if missing:
            problems.setdefault("body", []).append(
                "A text message must include " + ", ".join(f"{{{m}}}" for m in missing) + "."
            )
        if len(body) > SMS_MAX_LENGTH:
            problems.setdefault("body", []).append(
                f"Keep a text message under {SMS_MAX_LENGTH} characters."
            )
    return problems


def fill(text: str, values: dict[str, str]) -> str:
    """Substitute placeholders in a validated template (unknown ones are left visible)."""
    out: list[str] = []
    for literal, name, _, _ in _FORMATTER.parse(text):
        out.append(literal)
        if name is not None:
            out.append(values.get(name, "{" + name + "}"))
    return "".join(out)


def text_to_html(text: str) -> str:
    """Paragraphs and clickable links from plain text, every character escaped."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = str(escape(block))
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return str(Markup("\n".join(paragraphs)))


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str

    def as_payload(self) -> dict[str, str]:
        return {"subject": self.subject, "text": self.text, "html": self.html}


def render(subject: str, body: str, values: dict[str, str], channel: str) -> RenderedMessage:
    text = fill(body, values)
    if channel == Channel.SMS:
        return RenderedMessage(subject="", text=text, html="")
    return RenderedMessage(subject=fill(subject, values), text=text, html=text_to_html(text))


PRODID = "-//Clinic scheduling//appointments//EN"
"""Names the software, never the therapy: a calendar entry carries nothing clinical."""


def appointment_calendar(
    *,
    uid: str,
    sequence: int,
    starts_at: datetime,
    ends_at: datetime,
    clinic_name: str,
    organizer_email: str,
    stamp: datetime,
    summary: str,
    cancelled: bool = False,
) -> str:
    """An iCalendar file for one appointment. The UID never changes for the appointment;
    SEQUENCE grows with every move, and once more when it is cancelled, so calendars
    replace the entry instead of adding one (RFC 5545 ignores an update whose SEQUENCE did
    not grow). Nothing clinical, not even in PRODID: the `summary` names only the clinic
    (`calendar_summary`).

    A course books dozens at once and the calendar library takes a fifth of a millisecond
    a file, so the common case (UTC times, a short plain UID) fills the clinic's file,
    rendered once, with the appointment's own lines: the same bytes (a test compares)."""
    status = "CANCELLED" if cancelled else "CONFIRMED"
    sequence = sequence + 1 if cancelled else sequence
    times = (starts_at, ends_at, stamp)
    uid_line = f"UID:{uid}"
    if not (
        all(moment.tzinfo is UTC for moment in times)
        and uid_line.isascii()
        and len(uid_line) < FOLD_AT
        and not any(special in uid for special in "\\;,\r\n")
    ):
        return _render_calendar(uid, sequence, times, clinic_name, organizer_email, summary, status)
    text = _calendar_template(clinic_name, organizer_email, summary, status)
    lines = {
        _STAND_IN_UID: uid_line,
        _STAND_IN_SEQUENCE: f"SEQUENCE:{sequence}",
        **{
            stand_in: f"{name}:{moment:%Y%m%dT%H%M%SZ}"
            for (name, stand_in), moment in zip(_STAND_IN_TIMES, times, strict=True)
        },
    }
    for stand_in, line in lines.items():
        text = text.replace(f"\r\n{stand_in}\r\n", f"\r\n{line}\r\n", 1)
    return text


def calendar_summary(clinic_name: str) -> str:
    """A calendar entry's title, in the language being spoken (`clinic.i18n.speaking`):
    worked out once for a batch of files, as translating costs more than filling one in."""
    return gettext("Appointment at %(clinic)s", clinic=clinic_name)


# Content lines longer than this are folded (RFC 5545: 75 octets).
FOLD_AT = 75
_STAND_IN_UID = "UID:stand-in-uid"
_STAND_IN_SEQUENCE = "SEQUENCE:987654321"
_STAND_IN_MOMENTS = (
    datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(1902, 3, 4, 5, 6, 7, tzinfo=UTC),
    datetime(1903, 4, 5, 6, 7, 8, tzinfo=UTC),
)
_STAND_IN_TIMES = tuple(
    (name, f"{name}:{moment:%Y%m%dT%H%M%SZ}")
    for name, moment in zip(("DTSTART", "DTEND", "DTSTAMP"), _STAND_IN_MOMENTS, strict=True)
)


@lru_cache(maxsize=64)
def _calendar_template(clinic_name: str, organizer_email: str, summary: str, status: str) -> str:
    """The clinic's calendar file with stand-ins for the appointment's own lines."""
    return _render_calendar(
        _STAND_IN_UID.partition(":")[2],
        int(_STAND_IN_SEQUENCE.partition(":")[2]),
        _STAND_IN_MOMENTS,
        clinic_name,
        organizer_email,
        summary,
        status,
    )


def _render_calendar(
    uid: str,
    sequence: int,
    times: tuple[datetime, datetime, datetime],
    clinic_name: str,
    organizer_email: str,
    summary: str,
    status: str,
) -> str:
    starts_at, ends_at, stamp = times
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(clinic_name)
    event.add("organizer", organizer)
    event.add("dtstamp", stamp)
    event.add("dtstart", starts_at)
    event.add("dtend", ends_at)
    event.add("summary", summary)
    event.add("location", clinic_name)
    event.add("status", status)
    calendar.add_component(event)
    return calendar.to_ical().decode()

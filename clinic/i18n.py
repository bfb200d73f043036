"""Languages for patients: Flask-Babel set up once, and a way to speak a given language.

Staff pages are English. What a patient reads (questionnaire pages, reminder texts, the
calendar file) is marked for translation (`gettext` / `{% trans %}`) and produced inside
`speaking(language)`, with the patient's language: a web request, a scheduler job or a
test all work the same way. Catalogs: `clinic/translations/<lang>/LC_MESSAGES/` (the
.po is the source, the compiled .mo is committed; `make translations` refreshes both).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from babel.dates import format_date
from flask import Flask, has_request_context, request
from flask_babel import Babel, force_locale, get_locale

ENGLISH = "en"
SUPPORTED = ("en", "es")
TRANSLATIONS = Path(__file__).with_name("translations")

babel = Babel()


def supported(language: str | None) -> str:
    """The language if we speak it, else English."""
    return language if language in SUPPORTED else ENGLISH


def browser_language() -> str:
    """For a patient page that knows no patient (an unknown link): the browser's choice."""
    if not has_request_context():
        return ENGLISH
    return request.accept_languages.best_match(SUPPORTED) or ENGLISH


@contextmanager
def speaking(language: str | None) -> Iterator[str]:
    """Everything translated inside the block comes in `language` (English if unknown)."""
    chosen = supported(language)
    with force_locale(chosen):
        yield chosen


def long_date(day: date, language: str | None) -> str:
    """A date as a patient reads it: "Monday 9 March 2026", "lunes 9 de marzo de 2026"."""
    chosen = supported(language)
    if chosen == ENGLISH:
        return f"{day:%A} {day.day} {day:%B %Y}"
    return format_date(day, "EEEE d 'de' MMMM 'de' y", locale=chosen)


def page_language() -> str:
    """The `lang` of the page being rendered."""
    locale = get_locale()
    return locale.language if locale is not None else ENGLISH


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        default_locale=ENGLISH,
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=lambda: ENGLISH,  # staff pages; patient pages use speaking()
    )
    app.jinja_env.globals["page_language"] = page_language

"""What every HTML form handler shares: one way to show a service's refusal, and one way
to send the browser on after a form posted with htmx.

A handler that catches a `DomainError` hands it here. The refused action's writes are
rolled back at once (the request's single commit, `clinic.transaction`, would do it for
a 4xx answer too, but not for a redirect after a flash), field errors go next to their
fields and the rest above the form.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request
from flask_wtf import FlaskForm

from clinic.errors import DomainError
from clinic.extensions import db


def _field_name(name: str) -> str:
    """A service names nested values `answers.q1` or `authorization.number`; the form's
    field is the last part."""
    return name.rsplit(".", 1)[-1]


def show_refusal(
    form: FlaskForm, error: DomainError, *, aliases: dict[str, str] | None = None
) -> None:
    """Put the refusal on the form: each field's messages on that field (`aliases` maps a
    service's field name onto a form field of another name), the rest atop the form."""
    db.session.rollback()
    aliases = aliases or {}
    for name, messages in error.fields.items():
        target = aliases.get(name) or aliases.get(name.split(".", 1)[0]) or _field_name(name)
        field = form._fields.get(target)
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.append(f"{name}: {'; '.join(messages)}")
    if not error.fields:
        form.form_errors.append(error.message)


def flash_refusal(error: DomainError) -> None:
    """For actions without a form of their own (a button): roll back, then say why."""
    db.session.rollback()
    flash(error.message, "error")


def go_to(url: str) -> Any:
    """Redirect after a post; a form posted by htmx is told to load the page itself
    (`HX-Redirect`), since htmx would otherwise swap the next page into its target."""
    if request.headers.get("HX-Request"):
        return "", 204, {"HX-Redirect": url}
    return redirect(url)

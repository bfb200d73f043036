"""`ui.badge` and `ui.icon` in templates and the functions behind them, which the day
board, the week and the header call directly (a macro call per session or per menu entry
cost ten times the function): one markup, a badge's label always in words, escaped."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest
from flask import render_template_string

from clinic.scheduling.models import AppointmentStatus


class Severity(Enum):
    URGENT = "urgent"


@pytest.mark.parametrize(
    ("status", "label", "html"),
    [
        ("scheduled", None, '<span class="badge badge-scheduled">Scheduled</span>'),
        (AppointmentStatus.NO_SHOW, None, '<span class="badge badge-no_show">No-show</span>'),
        (Severity.URGENT, None, '<span class="badge badge-urgent">Urgent</span>'),
        ("Checked-In", None, '<span class="badge badge-checked_in">Checked in</span>'),
        ("questionnaire_due", None, '<span class="badge">Questionnaire due</span>'),
        ("change_requested", "change requested", '<span class="badge">change requested</span>'),
        ("<b>", None, '<span class="badge">&lt;b&gt;</span>'),
    ],
)
def test_macro_and_function_render_the_same_badge(
    app: Any, status: Any, label: str | None, html: str
) -> None:
    with app.test_request_context():
        macro = render_template_string(
            '{% import "macros/ui.html" as ui %}{{ ui.badge(status, label) }}',
            status=status,
            label=label,
        )
        direct = render_template_string(
            "{{ status_badge(status, label) }}", status=status, label=label
        )
    assert macro == direct == html


def test_macro_and_function_render_the_same_icon(app: Any) -> None:
    with app.test_request_context():
        macro = render_template_string('{% import "macros/ui.html" as ui %}{{ ui.icon("bell") }}')
        direct = render_template_string('{{ icon_svg("bell") }}')
    assert (
        macro
        == direct
        == (
            '<svg class="icon" aria-hidden="true" focusable="false">'
            '<use href="/static/vendor/lucide/1.62.0/icons.svg#bell"></use></svg>'
        )
    )

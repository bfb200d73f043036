"""`ui.badge` in templates and `status_badge`, which the day board and the week call per
session instead of the macro: one markup, a label always in words, escaped."""

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

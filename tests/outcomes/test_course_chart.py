"""The course's one chart: each answer sits at the number of sessions delivered when it
was given, on the course page and in the printable course record."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import time_machine

from clinic.courses.models import Course
from clinic.outcomes import services
from tests.factories import login
from tests.outcomes.conftest import START, deliver, phq9

SLEEP_BAD = [1, 1, 4, 4, 4, 4, 4, 1]  # raw 35 -> T 66.1
SLEEP_BETTER = [3, 3, 3, 3, 3, 3, 3, 3]  # raw 24 -> T 54.3


def answer(course: Course, at: Any, total: int, pain: list[int], sleep: list[int]) -> None:
    with time_machine.travel(at, tick=False):
        services.record_response(course.patient_id, "PHQ-9", phq9(total), None, "link", None)
        services.record_response(course.patient_id, "PEG-3", pain, None, "link", None)
        services.record_response(course.patient_id, "PROMIS-SD-8a", sleep, None, "link", None)


def scenario(course: Course) -> None:
    answer(course, START - timedelta(days=1), 20, [8, 8, 8], SLEEP_BAD)
    deliver(course, 10)  # daily from START, one a day
    # The tenth session starts at START + 9 days; answered an hour before it: after 9.
    answer(course, START + timedelta(days=9) - timedelta(hours=1), 14, [6, 6, 6], SLEEP_BAD)
    answer(course, START + timedelta(days=12), 9, [4, 4, 4], SLEEP_BETTER)


def test_answers_are_placed_by_the_sessions_delivered_when_given(course: Course) -> None:
    scenario(course)
    svg = str(services.course_outcome_panel(course.id)["chart"])
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.S)
    assert desc is not None
    text = desc.group(1)
    assert "after 0 sessions (2025-03-02): 20 (severe)" in text
    assert "after 9 sessions (2025-03-12): 14 (moderate)" in text
    assert "after 10 sessions (2025-03-15): 9 (mild)" in text
    assert "after 0 sessions (2025-03-02): 8.0" in text
    assert "after 0 sessions (2025-03-02): 66.1 (moderate)" in text
    assert "after 10 sessions (2025-03-15): 54.3 (within normal limits)" in text
    assert f">{course.planned_sessions}</text>" in svg  # the axis runs to the planned count


def test_the_course_page_and_the_printed_record_show_the_one_chart(
    client: Any, clinician: Any, course: Course
) -> None:
    scenario(course)
    login(client, clinician)
    for path in (f"/courses/{course.id}", f"/courses/{course.id}/record"):
        html = client.get(path).get_data(as_text=True)
        charts = html.count("<svg") - html.count('<svg class="icon"')  # not the icons
        assert charts == 1, path
        for code in ("PHQ-9", "PEG-3", "PROMIS-SD-8a"):
            assert f'data-code="{code}"' in html, (path, code)
        assert "Mood, pain and sleep against sessions delivered" in html
        assert '<th scope="row">PROMIS-SD-8a</th>' in html

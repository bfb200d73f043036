"""Course page hints (issue 12): an extension when PHQ-9 improved 25-49% by the end of an
acute course; a retreatment offered only after an earlier response above 50%. Hints,
with their reasons, never blocks."""

from __future__ import annotations

from typing import Any

from clinic.outcomes import hints
from tests.factories import login, make_course, make_patient
from tests.outcomes.conftest import course_with_phq9


def _codes(course: Any) -> list[str]:
    return [hint.code for hint in hints.course_hints(course)]


def test_a_partial_response_suggests_an_extension_with_its_reason(
    api: Any, clinician: Any, client: Any
) -> None:
    course = course_with_phq9(20, 14, status="completed")  # 30% better
    answer = api.as_(clinician).get(f"/api/v1/courses/{course.id}/hints")
    assert answer.status_code == 200
    [hint] = answer.get_json()["items"]
    assert hint["code"] == "suggest_extension"
    assert "20 to 14" in hint["reason"] and "30%" in hint["reason"]
    login(client, clinician)
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "Consider an extension" in page and "30% improvement" in page


def test_no_extension_hint_below_25_or_from_50_or_for_other_kinds(app: Any) -> None:
    assert _codes(course_with_phq9(20, 17, status="completed")) == []  # 15%
    assert _codes(course_with_phq9(20, 10, status="completed")) == []  # 50%: a response
    earlier = course_with_phq9(20, 10, status="completed")
    extension = course_with_phq9(
        20, 14, status="completed", kind="extension", previous_course_id=earlier.id
    )
    assert _codes(extension) == []


def test_retreatment_is_offered_only_after_a_response_above_50(app: Any) -> None:
    responder = course_with_phq9(20, 8, status="completed")  # 60%
    assert _codes(responder) == ["retreatment_supported"]
    partial = course_with_phq9(20, 14, status="completed")
    assert "retreatment_supported" not in _codes(partial)
    again = make_course(
        make_patient(), kind="retreatment", previous_course_id=partial.id, planned_sessions=10
    )
    [hint] = hints.course_hints(again)
    assert hint.code == "retreatment_not_supported"
    assert f"course {partial.id}" in hint.reason and "30%" in hint.reason
    fine = make_course(
        make_patient(), kind="retreatment", previous_course_id=responder.id, planned_sessions=10
    )
    assert _codes(fine) == []


def test_unknown_course_is_404(api: Any, clinician: Any) -> None:
    assert api.as_(clinician).get("/api/v1/courses/999999/hints").status_code == 404

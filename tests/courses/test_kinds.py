"""Course kinds and a course's own pattern (CONTRACT 7): prescribing, the 422s, what
GET /courses/{id} answers, and booking by the course's pattern."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.courses.models import Course
from clinic.extensions import db
from tests.courses.test_routes import signed_in, text
from tests.factories import make_course, make_device, make_patient

NY = ZoneInfo("America/New_York")
MEDICARE = {"daily": 20, "taper": [3, 2]}
BRAINSWAY = {"daily": 20, "weekly": {"per_week": 2, "weeks": 12}}


def _prescribe(api: Any, clinician: Any, **body: Any) -> Any:
    return api.as_(clinician).post("/api/v1/courses", json={"protocol": "10hz-ldlpfc", **body})


def test_a_course_is_acute_by_default_with_its_protocols_pattern(api: Any, clinician: Any) -> None:
    answer = _prescribe(api, clinician, patient_id=make_patient().id)
    assert answer.status_code == 201, answer.get_json()
    body = api.as_(clinician).get(f"/api/v1/courses/{answer.get_json()['id']}").get_json()
    assert body["kind"] == "acute" and body["previous_course_id"] is None
    assert body["pattern"] == {"daily": 30, "taper": [3, 2, 1]}
    assert body["pattern_source"] == "protocol"


def test_the_pattern_sets_planned_sessions_and_is_answered(api: Any, clinician: Any) -> None:
    answer = _prescribe(api, clinician, patient_id=make_patient().id, pattern=BRAINSWAY)
    assert answer.status_code == 201, answer.get_json()
    body = api.as_(clinician).get(f"/api/v1/courses/{answer.get_json()['id']}").get_json()
    assert body["planned_sessions"] == 44
    assert body["pattern"] == BRAINSWAY and body["pattern_source"] == "course"


def test_planned_sessions_must_equal_the_patterns_total(api: Any, clinician: Any) -> None:
    patient = make_patient()
    wrong = _prescribe(api, clinician, patient_id=patient.id, pattern=MEDICARE, planned_sessions=36)
    assert wrong.status_code == 422
    error = wrong.get_json()["error"]
    assert error["code"] == "validation_error" and "planned_sessions" in error["fields"]
    right = _prescribe(api, clinician, patient_id=patient.id, pattern=MEDICARE, planned_sessions=25)
    assert right.status_code == 201 and right.get_json()["planned_sessions"] == 25


def test_a_malformed_pattern_is_a_422_never_a_500(api: Any, clinician: Any) -> None:
    patient = make_patient()
    for pattern in (
        {"daily": -1},
        {"daily": 5, "taper": [0]},
        {"daily": 5, "weekly": {"per_week": 9, "weeks": 2}},
        {"daily": 0},
        {"daily": 5, "monthly": 3},
        "daily",
    ):
        answer = _prescribe(api, clinician, patient_id=patient.id, pattern=pattern)
        assert answer.status_code == 422, (pattern, answer.get_json())


def test_extension_and_retreatment_need_the_course_they_continue(api: Any, clinician: Any) -> None:
    patient = make_patient()
    first = make_course(patient, status="completed")
    for kind in ("extension", "retreatment"):
        missing = _prescribe(api, clinician, patient_id=patient.id, kind=kind)
        assert missing.status_code == 422
        assert "previous_course_id" in missing.get_json()["error"]["fields"]
    other = make_course(make_patient())
    foreign = _prescribe(
        api, clinician, patient_id=patient.id, kind="extension", previous_course_id=other.id
    )
    assert foreign.status_code == 422
    extension = _prescribe(
        api,
        clinician,
        patient_id=patient.id,
        kind="extension",
        previous_course_id=first.id,
        pattern={"daily": 10, "taper": [3, 2, 1]},
    )
    assert extension.status_code == 201, extension.get_json()
    body = extension.get_json()
    assert body["kind"] == "extension" and body["previous_course_id"] == first.id
    assert body["planned_sessions"] == 16
    maintenance = _prescribe(api, clinician, patient_id=patient.id, kind="maintenance")
    assert maintenance.status_code == 201 and maintenance.get_json()["kind"] == "maintenance"
    unknown = _prescribe(api, clinician, patient_id=patient.id, kind="booster")
    assert unknown.status_code == 422


def test_booking_follows_the_courses_own_pattern(api: Any, clinician: Any, front_desk: Any) -> None:
    make_device("Chair A")
    created = _prescribe(api, clinician, patient_id=make_patient().id, pattern=MEDICARE)
    course_id = created.get_json()["id"]
    booked = api.as_(front_desk).post(
        f"/api/v1/courses/{course_id}/schedule", json={"start_date": "2026-03-02", "time": "09:00"}
    )
    assert booked.status_code == 201, booked.get_json()
    days = [
        date.fromisoformat(a["starts_at"][:10]) for a in booked.get_json()["appointments"]
    ]  # 14:00Z is 09:00 in New York: the UTC date is the local one
    assert len(days) == 25
    assert days[19] == date(2026, 3, 27)  # 20 consecutive weekdays
    assert days[20:] == [
        date(2026, 3, 30),  # taper week of 3: Mon, Wed, Fri
        date(2026, 4, 1),
        date(2026, 4, 3),
        date(2026, 4, 7),  # taper week of 2: Tue, Thu
        date(2026, 4, 9),
    ]
    course = api.as_(front_desk).get(f"/api/v1/courses/{course_id}").get_json()
    assert course["projected_end_date"] == "2026-04-09"


def test_the_prescribe_page_offers_the_presets_and_a_custom_pattern(client: Any) -> None:
    clinician = signed_in(client, "clinician")
    patient = make_patient()
    page = text(client.get(f"/patients/{patient.id}/courses/new"))
    for preset in ("Medicare: 20 daily", "Extension: 10 daily", "BrainsWay H1", "Maintenance"):
        assert preset in page
    base = {"protocol": "deep-tms-h1", "prescriber_id": clinician.id, "authorization_id": 0}
    brainsway = client.post(
        f"/patients/{patient.id}/courses/new", data={**base, "pattern_preset": "brainsway-h1"}
    )
    assert brainsway.status_code == 302
    detail = text(client.get(brainsway.headers["Location"]))
    assert "0 of 44 delivered" in detail and "2 a week for 12 weeks" in detail
    first = db.session.scalar(select(Course).where(Course.patient_id == patient.id))
    assert first is not None
    no_previous = client.post(
        f"/patients/{patient.id}/courses/new",
        data={**base, "kind": "extension", "pattern_preset": "extension"},
    )
    assert no_previous.status_code == 422
    assert "Required for an extension: the course it continues." in text(no_previous)
    custom = client.post(
        f"/patients/{patient.id}/courses/new",
        data={
            **base,
            "kind": "extension",
            "previous_course_id": first.id,
            "pattern_preset": "custom",
            "pattern_daily": 10,
            "pattern_taper": "3, 2, 1",
        },
    )
    assert custom.status_code == 302
    extension = text(client.get(custom.headers["Location"]))
    assert "0 of 16 delivered" in extension and f"course {first.id}" in extension
    bad = client.post(
        f"/patients/{patient.id}/courses/new",
        data={**base, "pattern_preset": "custom", "pattern_daily": 5, "pattern_taper": "3, x"},
    )
    assert bad.status_code == 422 and "taper" in text(bad)


def test_a_course_with_its_own_pattern_keeps_its_total(api: Any, clinician: Any) -> None:
    created = _prescribe(api, clinician, patient_id=make_patient().id, pattern=MEDICARE)
    course_id = created.get_json()["id"]
    changed = api.as_(clinician).patch(
        f"/api/v1/courses/{course_id}", json={"planned_sessions": 30}
    )
    assert changed.status_code == 422
    assert "planned_sessions" in changed.get_json()["error"]["fields"]


def test_a_medicare_course_crosses_the_autumn_clock_change_and_public_holidays(
    api: Any, clinician: Any, front_desk: Any
) -> None:
    """From Monday 26 October 2026: the clocks go back on 1 November, and the site's US
    public holidays (Veterans Day on 11 November, Thanksgiving on 26 November, from the
    `holidays` library) are closures the pattern flows around."""
    make_device("Chair A")
    created = _prescribe(api, clinician, patient_id=make_patient().id, pattern=MEDICARE)
    course_id = created.get_json()["id"]
    booked = api.as_(front_desk).post(
        f"/api/v1/courses/{course_id}/schedule", json={"start_date": "2026-10-26", "time": "09:00"}
    )
    assert booked.status_code == 201, booked.get_json()
    starts = [
        datetime.fromisoformat(a["starts_at"]).astimezone(NY)
        for a in booked.get_json()["appointments"]
    ]
    days = [start.date() for start in starts]
    assert len(days) == 25
    assert date(2026, 11, 11) not in days and date(2026, 11, 26) not in days
    assert {start.time() for start in starts} == {time(9)}  # the patient's 9 o'clock, always
    assert {start.utcoffset() for start in starts} == {timedelta(hours=-4), timedelta(hours=-5)}
    # 20 open weekdays from 26 October, Veterans Day skipped, end on 23 November; the
    # taper follows in the next weeks.
    assert days[19] == date(2026, 11, 23)
    assert all(day >= date(2026, 11, 30) for day in days[20:])
    assert days[:20] == sorted(days[:20]) and len(set(days[:20])) == 20

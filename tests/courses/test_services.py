"""The course rules, called directly: protocols, prescribing, status, numbers, alerts."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clinic import clock, events
from clinic.alerts.models import Alert
from clinic.audit.models import AuditEvent
from clinic.courses import numbers, prescribing, protocols
from clinic.courses.authorization import (
    LOW_AUTHORIZATION_SESSIONS,
    check_authorization,
    check_authorizations,
)
from clinic.courses.models import Course
from clinic.courses.status import set_course_status
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.scheduling import booking_service
from clinic.scheduling.models import Closure
from tests.courses.conftest import NOW, add_sessions, make_authorization
from tests.factories import make_course, make_device, make_patient, make_user, protocol

# DOMAIN.md's preset table: pulses, %MT, default sessions, pattern, and the published
# session length in seconds with how far the formula may differ from the paper's rounding.
PRESETS = {
    "10hz-ldlpfc": (3000, 120, 36, "daily_taper", 37.5 * 60, 30),
    "itbs-ldlpfc": (600, 120, 36, "daily_taper", 3 * 60 + 9, 5),
    "deep-tms-h1": (1980, 120, 36, "daily_taper", 20 * 60, 15),
    "1hz-rdlpfc": (1200, 110, 36, "daily_taper", 20 * 60, 0),
    "accelerated-itbs": (1800, 90, 50, "accelerated", 10 * 60, 10),
    "10hz-m1-pain": (2000, 80, 15, "daily_then_weekly", 19 * 60, 60),
}


def clinic_protocol(**overrides: Any) -> dict[str, Any]:
    values = {
        "code": "5hz-ldlpfc",
        "name": "5 Hz rTMS, left DLPFC",
        "indication": "depression",
        "target": "L-DLPFC",
        "frequency_hz": 5,
        "pulses_per_train": 50,
        "train_seconds": 10,
        "inter_train_seconds": 20,
        "trains": 30,
        "intensity_pct_mt": 110,
        "default_sessions": 30,
        "pattern": "daily_taper",
    }
    return values | overrides


# --- Protocols -------------------------------------------------------------------------


def test_presets_carry_domain_numbers(app: Any) -> None:
    for code, (pulses, pct_mt, sessions, pattern, published, tolerance) in PRESETS.items():
        preset = protocol(code)
        assert preset.is_preset and preset.active, code
        assert preset.total_pulses == pulses, code
        assert preset.intensity_pct_mt == pct_mt, code
        assert preset.default_sessions == sessions, code
        assert preset.pattern == pattern, code
        assert preset.setup_buffer_minutes == 10, code
        assert abs(preset.session_seconds - published) <= tolerance, code


def test_session_seconds_follow_the_formula(app: Any) -> None:
    ldlpfc = protocol("10hz-ldlpfc")
    assert ldlpfc.session_seconds == 75 * 4 + 74 * 26 == 2224
    assert ldlpfc.slot_minutes == 38 + 10
    assert protocol("accelerated-itbs").sessions_per_day == 10
    assert protocol("accelerated-itbs").min_gap_minutes == 50


def test_admin_adds_a_clinic_protocol_with_default_buffer(app: Any, admin: Any) -> None:
    created = protocols.create_protocol(clinic_protocol(total_pulses=1500), actor_id=admin.id)
    db.session.commit()
    assert created.setup_buffer_minutes == 10 and not created.is_preset
    assert created.session_seconds == 30 * 10 + 29 * 20
    assert created in protocols.list_protocols()


INVALID_PROTOCOLS = [
    ({"total_pulses": 1499}, "total_pulses"),
    ({"pattern": "weekly"}, "pattern"),
    ({"intensity_pct_mt": 151}, "intensity_pct_mt"),
    ({"intensity_pct_mt": 0}, "intensity_pct_mt"),
    ({"setup_buffer_minutes": 61}, "setup_buffer_minutes"),
    ({"train_seconds": 0}, "train_seconds"),
    ({"inter_train_seconds": -1}, "inter_train_seconds"),
    ({"frequency_hz": 0}, "frequency_hz"),
    ({"sessions_per_day": 3}, "sessions_per_day"),
    ({"code": "Bad Code"}, "code"),
    ({"name": "  "}, "name"),
    ({"trains": 1000, "train_seconds": 60}, "trains"),
]


def test_invalid_protocols_are_refused_by_field(app: Any, admin: Any) -> None:
    for overrides, field in INVALID_PROTOCOLS:
        with pytest.raises(Invalid) as refused:
            protocols.create_protocol(clinic_protocol(**overrides), actor_id=admin.id)
        assert field in refused.value.fields, overrides


def test_protocol_codes_are_unique(app: Any, admin: Any) -> None:
    with pytest.raises(Conflict) as refused:
        protocols.create_protocol(clinic_protocol(code="10hz-ldlpfc"), actor_id=admin.id)
    assert refused.value.code == "protocol_exists"


def test_a_preset_changes_only_its_buffer_and_availability(app: Any, admin: Any) -> None:
    preset = protocol("itbs-ldlpfc")
    protocols.update_protocol(preset, {"setup_buffer_minutes": 5}, actor_id=admin.id)
    assert preset.slot_minutes == 4 + 5
    with pytest.raises(Conflict) as refused:
        protocols.update_protocol(preset, {"trains": 30}, actor_id=admin.id)
    assert refused.value.code == "preset_read_only"
    protocols.update_protocol(preset, {"active": False}, actor_id=admin.id)
    db.session.commit()
    assert preset not in protocols.list_protocols()
    assert preset in protocols.list_protocols(include_inactive=True)


def test_a_protocol_in_use_keeps_its_stimulation(app: Any, admin: Any) -> None:
    created = protocols.create_protocol(clinic_protocol(), actor_id=admin.id)
    db.session.commit()
    protocols.update_protocol(created, {"trains": 20}, actor_id=admin.id)
    make_course(protocol_code=created.code)
    with pytest.raises(Conflict) as refused:
        protocols.update_protocol(created, {"trains": 25}, actor_id=admin.id)
    assert refused.value.code == "protocol_in_use"
    protocols.update_protocol(created, {"name": "5 Hz, renamed"}, actor_id=admin.id)
    assert created.name == "5 Hz, renamed"


# --- Prescribing -----------------------------------------------------------------------


def test_prescribing_takes_the_protocols_defaults(app: Any, clinician: Any) -> None:
    patient = make_patient()
    course = prescribing.prescribe_course(patient.id, "10hz-ldlpfc", actor_id=clinician.id)
    db.session.commit()
    assert course.planned_sessions == 36
    assert course.prescribed_pct_mt == 120
    assert course.prescriber_id == clinician.id
    assert course.target == "L-DLPFC"
    assert course.status == "active"
    audit = db.session.scalar(
        select(AuditEvent).where(AuditEvent.entity_type == "course", AuditEvent.action == "create")
    )
    assert audit is not None and audit.patient_id == patient.id


def test_prescribing_needs_a_clearing_screening(app: Any, clinician: Any) -> None:
    for screened, code in [
        (None, "screening_required"),
        ("contraindicated", "screening_contraindicated"),
    ]:
        patient = make_patient(screened=screened)
        with pytest.raises(Conflict) as refused:
            prescribing.prescribe_course(patient.id, "10hz-ldlpfc", actor_id=clinician.id)
        assert refused.value.code == code


def test_a_review_screening_must_be_signed_off(app: Any, clinician: Any) -> None:
    patient = make_patient(screened="review")  # the factory signs it off
    prescribing.prescribe_course(patient.id, "10hz-ldlpfc", actor_id=clinician.id)
    latest = prescribing.latest_screening(patient.id)
    assert latest is not None
    latest.signed_off_at = None
    db.session.flush()
    with pytest.raises(Conflict) as refused:
        prescribing.prescribe_course(patient.id, "10hz-ldlpfc", actor_id=clinician.id)
    assert refused.value.code == "screening_review_required"


def test_only_the_latest_screening_counts(app: Any, clinician: Any) -> None:
    from clinic.patients.models import Screening

    patient = make_patient(screened="clear")
    db.session.add(
        Screening(
            patient_id=patient.id,
            version=2,
            answers={},
            result="contraindicated",
            positive_items=["metal_in_head"],
        )
    )
    db.session.flush()
    with pytest.raises(Conflict) as refused:
        prescribing.prescribe_course(patient.id, "10hz-ldlpfc", actor_id=clinician.id)
    assert refused.value.code == "screening_contraindicated"


def test_a_higher_intensity_needs_a_reason_and_a_lower_one_does_not(
    app: Any, clinician: Any
) -> None:
    patient = make_patient()
    lower = prescribing.prescribe_course(
        patient.id, "10hz-ldlpfc", prescribed_pct_mt=100, actor_id=clinician.id
    )
    assert lower.prescribed_pct_mt == 100
    with pytest.raises(Invalid) as refused:
        prescribing.prescribe_course(
            patient.id, "10hz-ldlpfc", prescribed_pct_mt=130, actor_id=clinician.id
        )
    assert "pct_mt_reason" in refused.value.fields
    higher = prescribing.prescribe_course(
        patient.id,
        "10hz-ldlpfc",
        prescribed_pct_mt=130,
        pct_mt_reason="Scalp-to-cortex distance on MRI",
        actor_id=clinician.id,
    )
    assert higher.pct_mt_reason == "Scalp-to-cortex distance on MRI"


def test_invalid_prescriptions_name_every_bad_field(app: Any, clinician: Any) -> None:
    technician = make_user("technician")
    patient = make_patient()
    with pytest.raises(Invalid) as refused:
        prescribing.prescribe_course(
            patient.id,
            "10hz-ldlpfc",
            planned_sessions=101,
            prescribed_pct_mt=151,
            prescriber_id=technician.id,
            actor_id=clinician.id,
        )
    assert {"planned_sessions", "prescribed_pct_mt", "prescriber_id"} <= set(refused.value.fields)
    with pytest.raises(Invalid) as unknown:
        prescribing.prescribe_course(999_999, "no-such", actor_id=clinician.id)
    assert {"patient_id", "protocol"} <= set(unknown.value.fields)


def test_an_inactive_protocol_cannot_be_prescribed(app: Any, clinician: Any) -> None:
    protocol("1hz-rdlpfc").active = False
    with pytest.raises(Invalid) as refused:
        prescribing.prescribe_course(make_patient().id, "1hz-rdlpfc", actor_id=clinician.id)
    assert "protocol" in refused.value.fields


def test_a_new_authorization_is_created_and_attached(app: Any, clinician: Any) -> None:
    patient = make_patient()
    course = prescribing.prescribe_course(
        patient.id,
        "10hz-ldlpfc",
        authorization={
            "payer": "Aetna",
            "number": "A-77",
            "sessions_authorized": 30,
            "valid_from": date(2026, 3, 1),
            "valid_to": date(2026, 5, 31),
        },
        actor_id=clinician.id,
    )
    db.session.commit()
    assert course.authorization is not None
    assert course.authorization.patient_id == patient.id
    assert course.authorization.sessions_authorized == 30


def test_an_existing_authorization_must_be_the_patients(app: Any, clinician: Any) -> None:
    patient, other = make_patient(), make_patient()
    theirs = make_authorization(other)
    with pytest.raises(Invalid) as refused:
        prescribing.prescribe_course(
            patient.id, "10hz-ldlpfc", authorization_id=theirs.id, actor_id=clinician.id
        )
    assert "authorization_id" in refused.value.fields
    mine = make_authorization(patient)
    course = prescribing.prescribe_course(
        patient.id, "10hz-ldlpfc", authorization_id=mine.id, actor_id=clinician.id
    )
    assert course.authorization_id == mine.id


def test_an_authorization_ending_before_it_starts_is_refused(app: Any, clinician: Any) -> None:
    with pytest.raises(Invalid) as refused:
        prescribing.prescribe_course(
            make_patient().id,
            "10hz-ldlpfc",
            authorization={
                "payer": "Aetna",
                "sessions_authorized": 30,
                "valid_from": date(2026, 3, 1),
                "valid_to": date(2026, 2, 1),
            },
            actor_id=clinician.id,
        )
    assert "authorization.valid_to" in refused.value.fields


def test_planned_sessions_never_drop_below_those_delivered(
    app: Any, clinician: Any, frozen: Any
) -> None:
    course = make_course()
    add_sessions(course, ["completed"] * 5, start=NOW - timedelta(days=10))
    with pytest.raises(Invalid):
        prescribing.update_course(course, {"planned_sessions": 4}, actor_id=clinician.id)
    prescribing.update_course(
        course, {"planned_sessions": 5, "notes": "Early responder"}, actor_id=clinician.id
    )
    assert course.planned_sessions == 5 and course.notes == "Early responder"


# --- Status ----------------------------------------------------------------------------


@pytest.fixture
def received() -> Any:
    calls: list[dict[str, Any]] = []

    def receiver(_sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    events.course_status_changed.connect(receiver)
    yield calls
    events.course_status_changed.disconnect(receiver)


def test_hold_and_discontinue_need_a_reason(app: Any, clinician: Any) -> None:
    course = make_course()
    for status in ("on_hold", "discontinued"):
        with pytest.raises(Invalid) as refused:
            set_course_status(course, status, "  ", actor_id=clinician.id)
        assert "reason" in refused.value.fields


def test_on_hold_keeps_booked_sessions_and_tells_listeners(
    app: Any, clinician: Any, frozen: Any, received: list[dict[str, Any]]
) -> None:
    course = make_course()
    booked = add_sessions(course, ["scheduled"] * 3)
    set_course_status(course, "on_hold", "Seizure on 1 March", actor_id=clinician.id)
    db.session.commit()
    assert [a.status for a in booked] == ["scheduled"] * 3
    assert received == [{"course": course, "old_status": "active", "actor_id": clinician.id}]
    assert course.status_reason == "Seizure on 1 March"


def test_ending_a_course_cancels_only_future_scheduled_sessions(
    app: Any, clinician: Any, frozen: Any
) -> None:
    course = make_course()
    past = add_sessions(course, ["completed", "no_show"], start=NOW - timedelta(days=3))
    future = add_sessions(course, ["scheduled"] * 4)
    cancelled: list[Any] = []

    def on_cancel(_sender: Any, **kwargs: Any) -> None:
        cancelled.append(kwargs["appointment"])

    events.appointment_cancelled.connect(on_cancel)
    try:
        set_course_status(course, "discontinued", "Moved away", actor_id=clinician.id)
    finally:
        events.appointment_cancelled.disconnect(on_cancel)
    db.session.commit()
    assert [a.status for a in past] == ["completed", "no_show"]
    assert {a.status for a in future} == {"cancelled"}
    assert cancelled == future
    summary = numbers.course_summary(course)
    assert summary.scheduled_sessions == 0 and summary.cancelled_sessions == 4


def test_closed_courses_are_final_except_for_an_admin_reopening(
    app: Any, clinician: Any, admin: Any
) -> None:
    course = make_course()
    set_course_status(course, "completed", None, actor_id=clinician.id)
    with pytest.raises(Conflict) as refused:
        set_course_status(course, "active", "Relapse", actor_id=clinician.id)
    assert refused.value.code == "course_closed"
    with pytest.raises(Conflict):
        set_course_status(course, "on_hold", "x", actor_id=admin.id)
    with pytest.raises(Invalid):
        set_course_status(course, "active", None, actor_id=admin.id)
    set_course_status(course, "active", "Completed by mistake", actor_id=admin.id)
    assert course.status == "active"


def test_the_same_status_again_changes_nothing(
    app: Any, clinician: Any, received: list[dict[str, Any]]
) -> None:
    course = make_course()
    set_course_status(course, "active", None, actor_id=clinician.id)
    assert received == []


def test_system_callers_may_hold_a_course_without_an_actor(app: Any) -> None:
    course = make_course()
    set_course_status(course, "on_hold", "Seizure during session 4", actor_id=None)
    assert course.status == "on_hold"


def test_unknown_course_is_not_found(app: Any) -> None:
    with pytest.raises(NotFound):
        numbers.get_course(123456)


# --- Numbers ---------------------------------------------------------------------------


def test_course_numbers_for_a_mix_of_sessions(app: Any, frozen: Any) -> None:
    course = make_course(planned_sessions=10)
    add_sessions(
        course,
        ["completed", "completed", "no_show", "incomplete", "cancelled"],
        start=NOW - timedelta(days=6),
    )
    add_sessions(course, ["checked_in", "scheduled", "scheduled"], start=NOW - timedelta(hours=1))
    add_sessions(course, ["completed"], start=NOW - timedelta(days=20), kind="mapping")
    summary = numbers.course_summary(course)
    assert summary.delivered_sessions == 2
    assert summary.missed_sessions == 2
    assert summary.cancelled_sessions == 1
    assert summary.scheduled_sessions == 3
    assert summary.remaining_sessions == 8
    assert summary.unbooked_sessions == 5
    assert summary.projected_end_estimated


def test_projected_end_is_the_last_booked_session_when_all_are_booked(
    app: Any, frozen: Any
) -> None:
    course = make_course(planned_sessions=3)
    add_sessions(course, ["scheduled"] * 3)
    summary = numbers.course_summary(course)
    assert summary.projected_end_date == date(2026, 3, 4)
    assert not summary.projected_end_estimated


def test_projected_end_of_an_unbooked_course_follows_the_taper(app: Any, frozen: Any) -> None:
    course = make_course()  # 36 sessions of 10hz-ldlpfc from Monday 2 March 2026
    # 30 weekdays to Friday 10 April, then 3 (Mon/Wed/Fri), 2 (Tue/Thu) and 1 (Wed).
    assert numbers.course_summary(course).projected_end_date == date(2026, 4, 29)
    db.session.add(Closure(date=date(2026, 4, 3), reason="Good Friday"))
    db.session.commit()
    assert numbers.course_summary(course).projected_end_date == date(2026, 5, 6)


def test_projected_end_of_accelerated_and_pain_courses(app: Any, frozen: Any) -> None:
    # 50 sessions of about 10 minutes' stimulation, each starting 50 minutes after the
    # previous one's stimulation ends (the set-up buffer does not count): ten a day from
    # 08:00 to 17:00, so five weekdays, Monday to Friday.
    accelerated = make_course(protocol_code="accelerated-itbs")
    assert numbers.course_summary(accelerated).projected_end_date == date(2026, 3, 6)
    pain = make_course(protocol_code="10hz-m1-pain")  # 5 daily, then 10 weekly
    assert numbers.course_summary(pain).projected_end_date == date(2026, 3, 6) + timedelta(
        weeks=10
    ) - timedelta(days=4)


@pytest.mark.parametrize("code", sorted(PRESETS))
def test_projected_end_is_where_booking_puts_the_last_session(
    app: Any, frozen: Any, code: str
) -> None:
    """The estimate asks the booking engine's patterns, so booking the course from the
    same day (at opening time, on a free chair) ends on the projected day."""
    course = make_course(protocol_code=code)
    make_device()
    projected = numbers.course_summary(course).projected_end_date
    booked = booking_service.schedule_course(
        course, start_date=NOW.date(), local_time=time(8), actor_id=None
    )
    assert clock.to_local(booked[-1].starts_at).date() == projected


def test_summaries_of_many_courses_take_a_fixed_number_of_queries(
    app: Any, frozen: Any, count_queries: Any
) -> None:
    patient = make_patient()
    courses = [make_course(patient) for _ in range(2)]
    for hour, course in enumerate(courses):  # a patient never overlaps themselves
        add_sessions(course, ["scheduled"] * 3, start=NOW + timedelta(hours=hour + 1))
    with count_queries() as few:
        numbers.course_summaries(numbers.patient_courses(patient.id))
    more = [make_course(patient) for _ in range(4)]
    for hour, course in enumerate(more):
        add_sessions(course, ["completed", "scheduled"], start=NOW - timedelta(hours=19 - hour))
    db.session.expire_all()
    with count_queries() as many:
        numbers.course_summaries(numbers.patient_courses(patient.id))
    assert many.count == few.count


# --- Authorization alerts --------------------------------------------------------------


def open_alerts() -> list[Alert]:
    return list(
        db.session.scalars(select(Alert).where(Alert.kind == "authorization").order_by(Alert.id))
    )


def test_booking_past_the_authorized_count_alerts_the_front_desk(app: Any, frozen: Any) -> None:
    patient = make_patient()
    course = make_course(patient, authorization_id=make_authorization(patient, 3).id)
    add_sessions(course, ["completed"], start=NOW - timedelta(days=1))
    booked = add_sessions(course, ["scheduled"] * 3)
    events.appointments_booked.send(None, appointments=booked, actor_id=None)
    events.appointments_booked.send(None, appointments=booked, actor_id=None)
    alerts = open_alerts()
    assert len(alerts) == 1
    assert alerts[0].audience == "front_desk" and alerts[0].course_id == course.id
    assert "4 sessions delivered or booked; 3 authorized" in alerts[0].message
    summary = numbers.course_summary(course).authorization
    assert summary is not None
    assert (summary.sessions_used, summary.sessions_remaining, summary.sessions_booked) == (1, 2, 3)
    assert summary.warning


def test_moving_a_session_past_the_end_date_alerts(app: Any, frozen: Any) -> None:
    patient = make_patient()
    authorization = make_authorization(patient, valid_to=date(2026, 3, 10))
    course = make_course(patient, authorization_id=authorization.id)
    (appointment,) = add_sessions(course, ["scheduled"])
    assert check_authorization(course) == []
    old = appointment.starts_at
    appointment.starts_at += timedelta(days=14)
    appointment.ends_at += timedelta(days=14)
    events.appointment_moved.send(
        None, appointment=appointment, old_starts_at=old, old_device_id=None, actor_id=None
    )
    (alert,) = open_alerts()
    assert alert.dedupe_key == f"course:{course.id}:expires"


def test_the_daily_check_warns_of_few_sessions_left_once(app: Any, frozen: Any) -> None:
    patient = make_patient()
    course = make_course(patient, authorization_id=make_authorization(patient, 4).id)
    add_sessions(course, ["completed"] * 2, start=NOW - timedelta(days=3))
    healthy = make_course(authorization_id=make_authorization(make_patient(), 36).id)
    assert check_authorizations(NOW) == 1
    assert check_authorizations(NOW) == 0
    (alert,) = open_alerts()
    assert alert.course_id == course.id and alert.dedupe_key.endswith(":low")
    assert healthy.id != course.id


def test_the_daily_check_notices_a_lapsed_authorization(app: Any, frozen: Any) -> None:
    patient = make_patient()
    lapsed = make_authorization(patient, valid_from=date(2026, 1, 1), valid_to=date(2026, 2, 27))
    make_course(patient, authorization_id=lapsed.id)
    assert check_authorizations(NOW) == 1
    assert open_alerts()[0].dedupe_key.endswith(":expired")


def test_courses_without_authorization_raise_nothing(app: Any, frozen: Any) -> None:
    course = make_course()
    add_sessions(course, ["scheduled"] * 40)
    assert check_authorization(course) == []
    assert check_authorizations(NOW) == 0
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0
    assert db.session.scalar(select(func.count()).select_from(Course)) == 1


STATUSES = ("scheduled", "checked_in", "completed", "incomplete", "cancelled", "no_show")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    planned=st.integers(min_value=1, max_value=40),
    statuses=st.lists(st.sampled_from(STATUSES), max_size=45),
    authorized=st.integers(min_value=1, max_value=40),
    course_status=st.sampled_from(["active", "on_hold", "completed"]),
)
def test_course_numbers_always_add_up(
    app: Any, frozen: Any, planned: int, statuses: list[str], authorized: int, course_status: str
) -> None:
    patient = make_patient()
    course = make_course(
        patient,
        planned_sessions=planned,
        status=course_status,
        authorization_id=make_authorization(patient, authorized).id,
    )
    add_sessions(course, statuses, start=NOW - timedelta(days=len(statuses) // 2))
    summary = numbers.course_summary(course)
    counts = {status: statuses.count(status) for status in STATUSES}
    assert summary.delivered_sessions == counts["completed"]
    assert summary.scheduled_sessions == counts["scheduled"] + counts["checked_in"]
    assert summary.missed_sessions == counts["no_show"] + counts["incomplete"]
    assert summary.cancelled_sessions == counts["cancelled"]
    assert (
        summary.delivered_sessions
        + summary.scheduled_sessions
        + summary.missed_sessions
        + summary.cancelled_sessions
        == len(statuses)
    )
    assert summary.remaining_sessions == max(planned - summary.delivered_sessions, 0)
    assert summary.unbooked_sessions == max(
        summary.remaining_sessions - summary.scheduled_sessions, 0
    )
    assert summary.projected_end_estimated == (
        course_status == "active" and summary.unbooked_sessions > 0
    )
    authorization = summary.authorization
    assert authorization is not None
    assert authorization.sessions_used == summary.delivered_sessions
    assert authorization.sessions_booked == summary.scheduled_sessions
    assert authorization.sessions_remaining == max(authorized - authorization.sessions_used, 0)
    assert authorization.over_booked == (
        authorization.sessions_used + authorization.sessions_booked > authorized
    )
    assert bool(authorization.warning) == (
        authorization.over_booked
        or authorization.runs_past_end
        or authorization.sessions_remaining < LOW_AUTHORIZATION_SESSIONS
    )

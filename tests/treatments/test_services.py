"""The session rules, called the way routes and the API call them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from clinic import events
from clinic.alerts.models import Alert
from clinic.audit.models import AuditAction, AuditEvent
from clinic.errors import Conflict, Invalid, NotAllowed
from clinic.extensions import db
from clinic.scheduling import lifecycle
from clinic.scheduling.models import Appointment
from clinic.treatments import queries
from clinic.treatments.models import MotorThreshold, TreatmentLog
from clinic.treatments.review import review_treatment, review_treatments, sign_treatment
from clinic.treatments.thresholds import (
    check_motor_threshold_due,
    list_motor_thresholds,
    record_motor_threshold,
    request_motor_threshold_recheck,
)
from clinic.treatments.treatment_log import (
    amend_treatment,
    edit_treatment,
    list_treatments,
    view_treatment,
)
from tests.factories import captured, count, make_appointment, make_course, make_patient, make_user
from tests.treatments.conftest import NOW, add_mt, days, log

# --- check-in --------------------------------------------------------------------------------


def test_check_in_marks_the_time_and_gives_the_session_to_the_technician(
    session_now: Any, technician: Any
) -> None:
    appointment = lifecycle.check_in(session_now.id, technician.id, "arrived early")
    db.session.commit()
    assert appointment.status == "checked_in"
    assert appointment.checked_in_at == NOW
    assert appointment.technician_id == technician.id
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "check_in", AuditEvent.entity_id == appointment.id
        )
    )


def test_check_in_by_the_front_desk_leaves_the_technician_unassigned(
    session_now: Any, front_desk: Any
) -> None:
    appointment = lifecycle.check_in(session_now.id, front_desk.id)
    assert appointment.status == "checked_in"
    assert appointment.technician_id is None


def test_check_in_keeps_an_assigned_technician_and_is_idempotent(
    course: Any, frozen: Any, technician: Any
) -> None:
    other = make_user("technician")
    appointment = make_appointment(course, NOW, technician_id=other.id)
    lifecycle.check_in(appointment.id, technician.id)
    again = lifecycle.check_in(appointment.id, technician.id)
    assert again.technician_id == other.id
    assert again.status == "checked_in"


def test_check_in_refuses_a_closed_appointment(course: Any, frozen: Any, admin: Any) -> None:
    for n, status in enumerate(["cancelled", "no_show", "completed", "incomplete"]):
        appointment = make_appointment(course, NOW + days(n), status=status)
        with pytest.raises(Conflict):
            lifecycle.check_in(appointment.id, admin.id)


# --- motor thresholds ----------------------------------------------------------------------


def test_motor_threshold_defaults_to_now_and_may_be_back_entered(
    course: Any, frozen: Any, technician: Any
) -> None:
    now_mt = add_mt(course, 55, actor=technician, coil_location="5 cm anterior")
    past_mt = add_mt(course, 52, at=NOW - days(20), method="emg")
    assert now_mt.measured_at == NOW and now_mt.measured_by_id == technician.id
    assert [t.id for t in list_motor_thresholds(course.id, actor_id=None)] == [
        now_mt.id,
        past_mt.id,
    ]


def test_motor_threshold_refuses_impossible_values(course: Any, frozen: Any) -> None:
    for fields, bad in [
        ({"value_pct": 0, "method": "visual"}, "value_pct"),
        ({"value_pct": 101, "method": "visual"}, "value_pct"),
        ({"value_pct": 50, "method": "guess"}, "method"),
        ({"value_pct": 50, "method": "visual", "measured_at": NOW + days(1)}, "measured_at"),
    ]:
        with pytest.raises(Invalid) as error:
            record_motor_threshold(course.id, None, **fields)
        assert bad in error.value.fields
    assert count(MotorThreshold) == 0


# --- when a motor threshold is required --------------------------------------------------------


def test_first_session_needs_a_motor_threshold(session_now: Any, technician: Any) -> None:
    with pytest.raises(Invalid) as error:
        log(session_now, technician)
    assert error.value.code == "motor_threshold_required"
    assert error.value.details["reason"] == "first_session"
    assert "motor_threshold_pct" in error.value.fields
    assert count(TreatmentLog) == 0


def test_an_inline_motor_threshold_is_recorded_first_and_sets_the_dose(
    session_now: Any, technician: Any
) -> None:
    result = log(session_now, technician, motor_threshold_pct=50, coil_location="F3")
    threshold = db.session.get(MotorThreshold, result.motor_threshold_id)
    assert threshold.value_pct == 50 and threshold.measured_at == NOW
    assert threshold.measured_by_id == technician.id
    assert result.dose_pct_output == 60.0
    assert result.appointment.status == "completed"


def test_motor_threshold_age_limit(frozen: Any, technician: Any, clinician: Any) -> None:
    for age_days, allowed in [(6, True), (7, True), (8, False)]:
        course = make_course(make_patient(), prescriber=clinician)
        add_mt(course, 50, at=NOW - days(age_days))
        appointment = make_appointment(course, NOW)
        if allowed:
            assert log(appointment, technician).motor_threshold_pct == 50
        else:
            with pytest.raises(Invalid) as error:
                log(appointment, technician)
            assert error.value.code == "motor_threshold_required"
            assert error.value.details["reason"] == "expired"


def test_age_counts_from_the_appointment_start_not_from_typing(
    course: Any, technician: Any
) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=UTC), tick=False):
        add_mt(course, 50)
    on_day_6 = make_appointment(course, datetime(2026, 3, 8, 15, 0, tzinfo=UTC))
    on_day_8 = make_appointment(course, datetime(2026, 3, 10, 15, 0, tzinfo=UTC), sequence=2)
    with time_machine.travel(datetime(2026, 3, 12, 15, 0, tzinfo=UTC), tick=False):
        assert log(on_day_6, technician).completed  # typed 10 days after the MT: still fine
        with pytest.raises(Invalid) as error:
            log(on_day_8, technician)
    assert error.value.code == "motor_threshold_required"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


DST_CASES = [
    # Spring forward (8 March 2026): Monday 10:00 EST to Monday 10:00 EDT is 6 d 23 h.
    (utc(2026, 3, 2, 15, 0), utc(2026, 3, 9, 14, 0), True),
    # Fall back (1 November 2026): Monday 10:00 EDT to Monday 10:00 EST is 7 d 1 h, yet
    # still seven calendar days in the clinic ...
    (utc(2026, 10, 26, 14, 0), utc(2026, 11, 2, 15, 0), True),
    # ... and the Tuesday after is one day too many.
    (utc(2026, 10, 26, 14, 0), utc(2026, 11, 3, 15, 0), False),
]


def test_age_is_counted_in_clinic_days_across_daylight_saving(
    app: Any, technician: Any, clinician: Any
) -> None:
    for mt_at, session_at, allowed in DST_CASES:
        course = make_course(make_patient(), prescriber=clinician)
        with time_machine.travel(mt_at, tick=False):
            add_mt(course, 50)
        appointment = make_appointment(course, session_at)
        with time_machine.travel(session_at, tick=False):
            if allowed:
                assert log(appointment, technician).completed, (mt_at, session_at)
            else:
                with pytest.raises(Invalid):
                    log(appointment, technician)


def test_the_age_limit_is_a_setting(app: Any, course: Any, frozen: Any, technician: Any) -> None:
    app.config["CLINIC_MT_MAX_AGE_DAYS"] = 3
    add_mt(course, 50, at=NOW - days(4))
    with pytest.raises(Invalid) as error:
        log(make_appointment(course, NOW), technician)
    assert "3 days" in error.value.message


def test_a_medication_change_requires_a_new_threshold(
    course: Any, frozen: Any, technician: Any, clinician: Any
) -> None:
    add_mt(course, 50, at=NOW - days(2))
    finished = make_appointment(course, NOW - days(1))
    events.medication_changed.send(None, patient=course.patient, actor_id=clinician.id)
    db.session.commit()
    # A session that was over before the change is not affected (back-entry).
    assert log(finished, technician).completed
    today_session = make_appointment(course, NOW, sequence=2)
    with pytest.raises(Invalid) as error:
        log(today_session, technician)
    assert error.value.details["reason"] == "medication_change"
    assert log(today_session, technician, motor_threshold_pct=48).motor_threshold_pct == 48


def test_medication_change_touches_only_running_courses(
    course: Any, frozen: Any, clinician: Any
) -> None:
    make_course(course.patient, status="completed")
    rechecks = request_motor_threshold_recheck(course.patient_id, "test", clinician.id)
    assert [r.course_id for r in rechecks] == [course.id]


# --- the log's limits ----------------------------------------------------------------------------


PRESCRIPTION_BREAKS = [
    ({"intensity_pct_mt": 121}, "intensity_pct_mt"),
    ({"pulses_delivered": 3001}, "pulses_delivered"),
    ({"completed": False, "pulses_delivered": 1200}, "stop_reason"),
    ({"side_effects": ["headache", "itching"]}, "side_effects"),
    ({"comfort_score": 11}, "comfort_score"),
    ({"adverse_event": {"type": "fainting", "severity": "mild"}}, "adverse_event"),
    ({"adverse_event": {"type": "syncope", "severity": "awful"}}, "adverse_event"),
]


def test_the_log_refuses_what_breaks_the_prescription(ready: Any, technician: Any) -> None:
    for fields, bad in PRESCRIPTION_BREAKS:
        with pytest.raises(Invalid) as error:
            log(ready, technician, **fields)
        assert list(error.value.fields) == [bad]
        assert error.value.fields[bad][0]
    assert count(TreatmentLog) == 0


def test_intensity_message_names_the_prescription(ready: Any, technician: Any) -> None:
    with pytest.raises(Invalid) as error:
        log(ready, technician, intensity_pct_mt=130)
    assert "120% MT" in error.value.fields["intensity_pct_mt"][0]


def test_a_dose_beyond_the_device_is_refused_and_leaves_no_threshold(
    session_now: Any, technician: Any
) -> None:
    with pytest.raises(Invalid) as error:
        log(session_now, technician, motor_threshold_pct=90)  # 120% of 90 = 108% output
    assert "intensity_pct_mt" in error.value.fields
    db.session.rollback()
    assert count(MotorThreshold) == 0


def test_an_incomplete_session_is_logged_but_not_delivered(ready: Any, technician: Any) -> None:
    result = log(
        ready, technician, completed=False, pulses_delivered=900, stop_reason="patient asked"
    )
    assert result.appointment.status == "incomplete"
    assert not result.completed and result.stop_reason == "patient asked"


def test_a_session_stopped_early_is_made_up_after_the_course(ready: Any, technician: Any) -> None:
    log(ready, technician, completed=False, pulses_delivered=900, stop_reason="headache")
    makeups = db.session.scalars(
        select(Appointment).where(Appointment.makeup_for_id == ready.id)
    ).all()
    assert len(makeups) == 1
    assert makeups[0].is_makeup and makeups[0].starts_at > ready.starts_at
    assert makeups[0].status == "scheduled"


def test_a_cancelled_or_missed_appointment_cannot_be_logged(
    course: Any, frozen: Any, technician: Any
) -> None:
    add_mt(course, 50)
    for n, status in enumerate(["cancelled", "no_show"]):
        with pytest.raises(Conflict):
            log(make_appointment(course, NOW - days(n), status=status), technician)


def test_a_session_is_logged_once(ready: Any, technician: Any) -> None:
    log(ready, technician)
    with pytest.raises(Conflict) as error:
        log(ready, technician)
    assert error.value.details["reason"] == "already_logged"


def test_logging_opens_an_hour_before_the_start(course: Any, frozen: Any, technician: Any) -> None:
    add_mt(course, 50)
    other = make_course(make_patient())
    add_mt(other, 50)
    soon = make_appointment(course, NOW + days(1 / 24) - days(1 / 1440))
    later = make_appointment(other, NOW + days(1 / 24) + days(1 / 1440))
    assert log(soon, technician).completed
    with pytest.raises(Conflict) as error:
        log(later, technician)
    assert error.value.details["reason"] == "too_early"


def test_back_entry_of_a_past_session(course: Any, frozen: Any, technician: Any) -> None:
    add_mt(course, 50, at=NOW - days(30))
    past = make_appointment(course, NOW - days(28))
    result = log(past, technician)
    assert result.completed and result.appointment.status == "completed"


def test_a_course_on_hold_takes_no_logs(course: Any, frozen: Any, technician: Any) -> None:
    add_mt(course, 50)
    course.status = "on_hold"
    db.session.commit()
    with pytest.raises(Conflict):
        log(make_appointment(course, NOW), technician)


def test_logging_sends_treatment_logged(ready: Any, technician: Any) -> None:
    with captured(events.treatment_logged) as sent:
        result = log(ready, technician, side_effects=["headache", "headache"])
    assert sent == [{"treatment": result, "actor_id": technician.id}]
    assert result.side_effects == ["headache"]


# --- adverse events ----------------------------------------------------------------------------


def test_a_seizure_or_serious_event_alerts_and_holds_the_course(
    frozen: Any, technician: Any, clinician: Any
) -> None:
    for event in (
        {"type": "seizure", "severity": "mild"},
        {"type": "syncope", "severity": "serious"},
    ):
        course = make_course(make_patient(), prescriber=clinician)
        add_mt(course, 50)
        with captured(events.course_status_changed) as sent:
            result = log(
                make_appointment(course, NOW),
                technician,
                adverse_event={**event, "description": "30 s"},
            )
        alert = db.session.scalar(select(Alert).where(Alert.course_id == course.id))
        assert alert.kind == "adverse_event"
        assert alert.severity == "urgent" and alert.audience == "clinician"
        assert alert.assigned_to_id == clinician.id
        assert alert.subject_type == "treatment" and alert.subject_id == result.id
        assert result.course.status == "on_hold"
        assert "Adverse event" in result.course.status_reason
        assert sent[0]["old_status"] == "active"


def test_a_moderate_event_is_logged_without_hold(ready: Any, technician: Any) -> None:
    result = log(ready, technician, adverse_event={"type": "syncope", "severity": "moderate"})
    assert result.adverse_event == {"type": "syncope", "severity": "moderate", "description": None}
    assert result.course.status == "active"
    assert count(Alert) == 0


# --- sign, edit, amend, review -------------------------------------------------------------------


@pytest.fixture
def logged(ready: Any, technician: Any) -> Any:
    return log(ready, technician)


def test_the_author_signs_and_a_signed_log_is_frozen(logged: Any, technician: Any) -> None:
    signed = sign_treatment(logged.id, technician.id)
    assert signed.status == "signed" and signed.signed_by_id == technician.id
    with pytest.raises(Conflict):
        sign_treatment(logged.id, technician.id)
    with pytest.raises(Conflict):
        edit_treatment(logged.id, technician.id, {"notes": "late change"})


def test_another_technician_may_not_sign_but_a_clinician_may(logged: Any, clinician: Any) -> None:
    with pytest.raises(NotAllowed):
        sign_treatment(logged.id, make_user("technician").id)
    assert sign_treatment(logged.id, clinician.id).signed_by_id == clinician.id


def test_an_unsigned_log_can_be_edited_with_history(logged: Any, technician: Any) -> None:
    edit_treatment(logged.id, technician.id, {"pulses_delivered": 2900, "notes": "ok"})
    assert logged.pulses_delivered == 2900
    assert [a.field for a in logged.amendments] == ["pulses_delivered", "notes"]


def test_an_amendment_keeps_who_when_old_and_new(logged: Any, technician: Any) -> None:
    sign_treatment(logged.id, technician.id)
    result = amend_treatment(
        logged.id, technician.id, field="intensity_pct_mt", value=110, reason="typo"
    )
    change = result.amendments[-1]
    assert (change.old_value, change.new_value, change.reason) == (120, 110, "typo")
    assert change.actor_id == technician.id and change.at == NOW
    assert result.intensity_pct_mt == 110 and result.dose_pct_output == 55.0


BAD_AMENDMENTS = [
    ({"field": "completed", "value": False, "reason": "x"}, "field"),
    ({"field": "intensity_pct_mt", "value": 150, "reason": "x"}, "value"),
    ({"field": "side_effects", "value": ["itching"], "reason": "x"}, "value"),
    ({"field": "notes", "value": "x", "reason": "  "}, "reason"),
    ({"field": "pulses_delivered", "value": 3000, "reason": "same"}, "value"),
]


def test_amendments_are_checked_like_the_log(logged: Any, technician: Any) -> None:
    for fields, bad in BAD_AMENDMENTS:
        with pytest.raises(Invalid) as error:
            amend_treatment(logged.id, technician.id, **fields)
        assert bad in error.value.fields
    assert logged.amendments == []


def test_an_adverse_event_added_later_still_alerts(logged: Any, clinician: Any) -> None:
    amend_treatment(
        logged.id,
        clinician.id,
        field="adverse_event",
        value={"type": "seizure", "severity": "severe", "description": "called next day"},
        reason="patient phoned",
    )
    assert logged.course.status == "on_hold"
    assert count(Alert) == 1


def test_review_of_an_unsigned_log_signs_it_too(logged: Any, clinician: Any) -> None:
    reviewed = review_treatment(logged.id, clinician.id)
    assert reviewed.status == "reviewed"
    assert reviewed.signed_by_id == clinician.id and reviewed.reviewed_by_id == clinician.id
    with pytest.raises(Conflict):
        review_treatment(logged.id, clinician.id)


def test_bulk_review_skips_what_is_already_reviewed(
    course: Any, frozen: Any, technician: Any, clinician: Any
) -> None:
    add_mt(course, 50)
    first = log(make_appointment(course, NOW - days(2)), technician)
    second = log(make_appointment(course, NOW - days(1), sequence=2), technician)
    review_treatment(first.id, clinician.id)
    reviewed = review_treatments([first.id, second.id], clinician.id)
    assert [r.id for r in reviewed] == [second.id]


def test_lists_and_the_review_queue(
    course: Any, frozen: Any, technician: Any, clinician: Any
) -> None:
    add_mt(course, 50)
    unsigned = log(make_appointment(course, NOW - days(3)), technician)
    signed = log(make_appointment(course, NOW - days(2), sequence=2), technician)
    sign_treatment(signed.id, technician.id)
    event = log(
        make_appointment(course, NOW - days(1), sequence=3),
        technician,
        side_effects=["headache"],
        adverse_event={"type": "other", "severity": "mild"},
    )
    done = log(make_appointment(course, NOW, sequence=4), technician)
    review_treatment(done.id, clinician.id)
    db.session.commit()
    queue = queries.review_queue()
    assert [x.id for x in queue.adverse_events] == [event.id]
    assert [x.id for x in queue.unsigned] == [unsigned.id]
    assert [x.id for x in queue.unreviewed] == [signed.id]

    def ids(**filters: Any) -> list[int]:
        return [x.id for x in list_treatments(course_id=course.id, **filters, actor_id=None)]

    assert ids(status="unreviewed") == [unsigned.id, signed.id, event.id]
    assert ids(status="unsigned") == [unsigned.id, event.id]
    assert ids(status="reviewed") == [done.id]


# --- the daily motor-threshold check -------------------------------------------------------------


def test_daily_check_alerts_technicians_once_per_course(
    course: Any, frozen: Any, technician: Any
) -> None:
    add_mt(course, 50, at=NOW - days(6))
    make_appointment(course, NOW + days(2))  # 8 days after the MT
    fresh = make_course(make_patient())
    add_mt(fresh, 50)
    make_appointment(fresh, NOW + days(1))
    held = make_course(make_patient(), status="on_hold")
    make_appointment(held, NOW + days(1))
    assert check_motor_threshold_due(NOW) == 1
    db.session.commit()
    assert check_motor_threshold_due(NOW) == 0
    alert = db.session.scalar(select(Alert).where(Alert.kind == "motor_threshold_due"))
    assert alert.audience == "technician" and alert.course_id == course.id
    assert alert.data["reason"] == "expired"


def test_the_check_is_a_cli_command(runner: Any, course: Any, frozen: Any) -> None:
    make_appointment(course, NOW + days(1))
    result = runner.invoke(args=["treatments", "check-mt"])
    assert result.exit_code == 0
    assert "motor threshold alerts opened: 1" in result.output


def test_each_read_of_a_patients_sessions_is_audited_by_the_service(
    logged: Any, course: Any, clinician: Any
) -> None:
    view_treatment(logged.id, actor_id=clinician.id)
    list_treatments(course_id=course.id, actor_id=clinician.id)
    list_motor_thresholds(course.id, actor_id=clinician.id)
    queries.course_record(course.id, actor_id=clinician.id)
    views = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == AuditAction.VIEW, AuditEvent.actor_id == clinician.id)
        .order_by(AuditEvent.id)
    ).all()
    assert {view.patient_id for view in views} == {course.patient_id}
    assert [view.detail for view in views] == [
        {"treatment_id": logged.id},
        {"via": "treatments"},
        {"course_id": course.id},
        {"course_record": course.id},
    ]

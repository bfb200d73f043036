""" "Any free chair" keeps a patient on the chair their course already uses when it is
free, instead of moving them between chairs from day to day."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from clinic.extensions import db
from clinic.scheduling import booking_service
from tests.factories import make_appointment, make_course, make_patient
from tests.scheduling.conftest import MONDAY, local


def _chairs(appointments: list[Any]) -> list[int]:
    return [a.device_id for a in sorted(appointments, key=lambda a: a.starts_at)]


def test_a_course_stays_on_the_chair_it_started_on(chairs: Any, frozen: Any) -> None:
    chair_a, chair_b = chairs
    # Chair A is taken on Monday at nine only: the course starts on chair B.
    make_appointment(
        make_course(make_patient(first_name="Other")), local(MONDAY, 9), device=chair_a
    )
    course = make_course(planned_sessions=4)
    booked = booking_service.schedule_course(
        course, start_date=MONDAY, local_time=time(9), actor_id=None
    )
    db.session.commit()
    assert _chairs(booked) == [chair_b.id] * 4


def test_booking_the_rest_of_a_course_keeps_its_chair(chairs: Any, frozen: Any) -> None:
    _chair_a, chair_b = chairs
    course = make_course(planned_sessions=5)
    for n in range(2):
        make_appointment(
            course, local(MONDAY, 9) + timedelta(days=n), device=chair_b, sequence=n + 1
        )
    booked = booking_service.schedule_course(
        course, start_date=MONDAY + timedelta(days=2), local_time=time(9), actor_id=None
    )
    db.session.commit()
    assert _chairs(booked) == [chair_b.id] * 3


def test_the_usual_chair_gives_way_to_the_time_asked_for(chairs: Any, frozen: Any) -> None:
    chair_a, chair_b = chairs
    course = make_course(planned_sessions=2)
    make_appointment(course, local(MONDAY, 9), device=chair_b)
    # Chair B is busy at nine on Tuesday: the session keeps its time on chair A.
    tuesday = MONDAY + timedelta(days=1)
    make_appointment(
        make_course(make_patient(first_name="Other")), local(tuesday, 9), device=chair_b
    )
    [booked] = booking_service.schedule_course(
        course, start_date=tuesday, local_time=time(9), actor_id=None
    )
    assert booked.device_id == chair_a.id
    assert booked.starts_at == local(tuesday, 9)

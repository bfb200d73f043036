"""Booking a whole course through the API against its lower bound: one transaction that
inserts the same 36 appointment rows and nothing else (no placement, no checks, no
reminders, no audit). Interleaved, in one process, so both see the same machine."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from statistics import median
from time import perf_counter
from typing import Any

from sqlalchemy import insert, select

SESSIONS = 36


def measure(app: Any, token: str, rounds: int) -> tuple[float, float]:
    """(median ms to book a course by the API, median ms of the bare insert)."""
    from clinic import clock
    from clinic.courses.models import Course, Protocol
    from clinic.extensions import db
    from clinic.patients.models import Patient
    from clinic.scheduling.models import Appointment, Device

    with app.app_context():
        protocol = db.session.scalar(select(Protocol).where(Protocol.code == "10hz-ldlpfc"))
        assert protocol is not None
        patients = list(
            db.session.scalars(select(Patient.id).order_by(Patient.id.desc()).limit(rounds + 1))
        )
        courses = [
            Course(
                patient_id=pid,
                protocol_id=protocol.id,
                planned_sessions=SESSIONS,
                prescribed_pct_mt=120,
                status="active",
            )
            for pid in patients
        ]
        db.session.add_all(courses)
        baseline_chair = Device(name="Baseline chair", active=True)
        db.session.add(baseline_chair)
        db.session.commit()
        booked = [course.id for course in courses[:-1]]
        baseline_course, baseline_patient = courses[-1].id, courses[-1].patient_id
        chair_id, slot = baseline_chair.id, timedelta(minutes=protocol.slot_minutes)
        start = clock.today() + timedelta(days=7 - clock.today().weekday())
        far = datetime.combine(start + timedelta(days=3 * 365), time(0), tzinfo=clock.clinic_tz())

    client = app.test_client()
    api_ms, bare_ms = [], []
    for index, course_id in enumerate(booked):
        body = {"start_date": start.isoformat(), "time": f"{9 + index % 8:02d}:15"}
        began = clock_ms()
        answer = client.post(
            f"/api/v1/courses/{course_id}/schedule",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        api_ms.append(clock_ms() - began)
        assert answer.status_code == 201, answer.get_data(as_text=True)[:300]
        assert len(answer.get_json()["appointments"]) == SESSIONS

        with app.app_context():
            first = far + timedelta(days=index * SESSIONS)
            rows = [
                {
                    "course_id": baseline_course,
                    "patient_id": baseline_patient,
                    "device_id": chair_id,
                    "starts_at": first + timedelta(days=n),
                    "ends_at": first + timedelta(days=n) + slot,
                    "kind": "treatment",
                    "status": "scheduled",
                    "sequence": index * SESSIONS + n + 1,
                    "is_makeup": False,
                    "revision": 0,
                }
                for n in range(SESSIONS)
            ]
            began = clock_ms()
            db.session.execute(insert(Appointment), rows)
            db.session.commit()
            bare_ms.append(clock_ms() - began)
    return median(api_ms), median(bare_ms)


def clock_ms() -> float:
    return perf_counter() * 1000

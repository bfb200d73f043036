"""The demo step: logs for past sessions, in bulk, consistent with the session rules."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from clinic import clock
from clinic.demo import DemoContext
from clinic.demo.treatments import load_treatments
from clinic.extensions import db
from clinic.scheduling.models import Appointment
from clinic.treatments import queries
from clinic.treatments.models import MotorThreshold, TreatmentLog
from tests.factories import make_course, make_device, make_patient, make_user


def context(large: bool = False) -> DemoContext:
    ctx = DemoContext(rng=random.Random(3), patients=5, years=1, devices=1, large=large)
    ctx.users = {"technician": make_user("technician"), "clinician": make_user("clinician")}
    return ctx


def book(course: Any, device: Any, starts: list[Any], status: str = "completed") -> None:
    minutes = course.protocol.slot_minutes
    db.session.execute(
        insert(Appointment),
        [
            {
                "course_id": course.id,
                "patient_id": course.patient_id,
                "device_id": device.id,
                "starts_at": at,
                "ends_at": at + timedelta(minutes=minutes),
                "kind": "treatment",
                "status": status,
                "sequence": n,
                "is_makeup": False,
                "revision": 0,
                "created_at": at,
                "updated_at": at,
            }
            for n, at in enumerate(starts, start=1)
        ],
    )
    db.session.commit()


def test_demo_logs_past_sessions_within_the_rules(app: Any) -> None:
    course = make_course(make_patient())
    device = make_device()
    now = clock.now().replace(microsecond=0)
    book(course, device, [now - timedelta(days=20 - d) for d in range(12)])
    book(course, device, [now + timedelta(days=2)], status="scheduled")
    ctx = context()
    load_treatments(ctx)
    db.session.commit()
    logs = db.session.scalars(select(TreatmentLog)).all()
    assert len(logs) == 12
    assert all(log.intensity_pct_mt <= course.prescribed_pct_mt for log in logs)
    assert all(log.pulses_delivered <= course.protocol.total_pulses for log in logs)
    assert any(log.reviewed_at for log in logs)
    assert db.session.scalar(select(func.count()).select_from(MotorThreshold)) == 2
    assert "Treatment logs: 12 sessions" in ctx.lines[-1]
    # The review queue and the record page work on demo data.
    assert queries.course_record(course.id, actor_id=None).delivered == 12
    load_treatments(context())  # a second run adds nothing
    assert db.session.scalar(select(func.count()).select_from(TreatmentLog)) == 12


def test_demo_scales_by_bulk_inserts(app: Any) -> None:
    now = clock.now().replace(microsecond=0)
    for n in range(40):
        course = make_course(make_patient())
        book(
            course,
            make_device(),
            [now - timedelta(days=400 - n, hours=-h) for h in range(0, 36 * 2, 2)],
        )
    started = time.perf_counter()
    load_treatments(context(large=True))
    db.session.commit()
    elapsed = time.perf_counter() - started
    assert db.session.scalar(select(func.count()).select_from(TreatmentLog)) == 40 * 36
    assert elapsed < 5, f"{elapsed:.1f} s for 1,440 sessions"

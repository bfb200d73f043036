"""Demo step: motor thresholds and treatment logs for the sessions that already happened.

Everything is inserted in bulk (one INSERT per table, executemany), so a history of
5,000 patients over 5 years takes seconds: no ORM object per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from clinic import clock
from clinic.courses.models import Course, Protocol
from clinic.demo.context import DemoContext
from clinic.extensions import db
from clinic.scheduling.models import Appointment, AppointmentStatus
from clinic.treatments.models import (
    CoilTarget,
    CoilTargetMethod,
    MotorThreshold,
    ThresholdMethod,
    TreatmentLog,
)

COIL_LOCATIONS = ("5.5 cm anterior to the APB hotspot", "Beam F3", "5 cm anterior, 1 cm lateral")
STOP_REASONS = ("Headache; patient asked to stop", "Scalp discomfort", "Patient had to leave early")
REVIEW_AFTER = timedelta(days=2)


def _past_sessions(now: datetime) -> Sequence[Any]:
    """Every delivered or started session before today, without a log, course by course."""
    start_of_today = datetime.combine(clock.today(), datetime.min.time(), tzinfo=clock.clinic_tz())
    # A session before today still marked scheduled happened: the demo's day ran normally.
    db.session.execute(
        update(Appointment)
        .where(
            Appointment.starts_at < start_of_today,
            Appointment.status.in_((AppointmentStatus.SCHEDULED, AppointmentStatus.CHECKED_IN)),
        )
        .values(status=AppointmentStatus.COMPLETED)
    )
    logged = select(TreatmentLog.appointment_id)
    return db.session.execute(
        select(
            Appointment.id,
            Appointment.course_id,
            Appointment.patient_id,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            Appointment.technician_id,
            Course.prescribed_pct_mt,
            Protocol.trains,
            Protocol.pulses_per_train,
        )
        .join(Course, Course.id == Appointment.course_id)
        .join(Protocol, Protocol.id == Course.protocol_id)
        .where(
            Appointment.starts_at < now,
            Appointment.status.in_((AppointmentStatus.COMPLETED, AppointmentStatus.INCOMPLETE)),
            Appointment.id.not_in(logged),
        )
        .order_by(Appointment.course_id, Appointment.starts_at)
    ).all()


def load_treatments(ctx: DemoContext) -> None:
    now = clock.now()
    sessions = _past_sessions(now)
    technician = ctx.users.get("technician")
    clinician = ctx.users.get("clinician")
    technician_id = technician.id if technician else None
    clinician_id = clinician.id if clinician else None
    rng = ctx.rng

    # Motor thresholds: at each course's first session, then weekly (as the rule asks).
    thresholds: list[dict[str, Any]] = []
    threshold_of: dict[int, tuple[int, datetime]] = {}  # appointment id -> (value, measured)
    course_mt: dict[int, tuple[int, datetime]] = {}
    for row in sessions:
        baseline = course_mt.get(row.course_id)
        if baseline is None or (row.starts_at - baseline[1]) >= timedelta(days=7):
            value = rng.randint(38, 72) if baseline is None else baseline[0] + rng.randint(-2, 2)
            baseline = (max(1, min(value, 80)), row.starts_at)
            course_mt[row.course_id] = baseline
            thresholds.append(
                {
                    "course_id": row.course_id,
                    "patient_id": row.patient_id,
                    "value_pct": baseline[0],
                    "method": ThresholdMethod.VISUAL if rng.random() < 0.8 else ThresholdMethod.EMG,
                    "coil_location": COIL_LOCATIONS[row.course_id % len(COIL_LOCATIONS)],
                    "measured_at": row.starts_at,
                    "measured_by_id": row.technician_id or technician_id,
                    "created_at": row.starts_at,
                }
            )
        threshold_of[row.id] = baseline
    if thresholds:
        db.session.execute(insert(MotorThreshold), thresholds)
    ids = {
        (course_id, measured_at): mt_id
        for mt_id, course_id, measured_at in db.session.execute(
            select(MotorThreshold.id, MotorThreshold.course_id, MotorThreshold.measured_at)
        )
    }

    logs: list[dict[str, Any]] = []
    delivered: dict[int, int] = {}  # course id -> sessions delivered so far
    for row in sessions:
        mt_value, measured_at = threshold_of[row.id]
        completed = row.status == AppointmentStatus.COMPLETED
        number = delivered.get(row.course_id, 0) + 1
        delivered[row.course_id] = number if completed else number - 1
        total = row.trains * row.pulses_per_train
        intensity = row.prescribed_pct_mt if rng.random() < 0.9 else row.prescribed_pct_mt - 10
        intensity = min(intensity, 100 * 100 // mt_value)  # never beyond the device
        logged_at = row.ends_at + timedelta(minutes=2)
        reviewed = now - logged_at > REVIEW_AFTER
        signed = reviewed or rng.random() < 0.7
        effects = [
            code for code, p in (("headache", 0.15), ("scalp_discomfort", 0.12)) if rng.random() < p
        ]
        logs.append(
            {
                "appointment_id": row.id,
                "course_id": row.course_id,
                "patient_id": row.patient_id,
                "motor_threshold_id": ids[(row.course_id, measured_at)],
                "motor_threshold_pct": mt_value,
                "intensity_pct_mt": intensity,
                "dose_pct_output": round(intensity * mt_value / 100, 1),
                "pulses_delivered": total if completed else total * rng.randint(2, 8) // 10,
                "completed": completed,
                "stop_reason": None if completed else rng.choice(STOP_REASONS),
                "coil_location": COIL_LOCATIONS[row.course_id % len(COIL_LOCATIONS)],
                "side_effects": effects,
                "comfort_score": rng.randint(5, 10),
                "supervisor_id": clinician_id,
                "session_number": number,
                "prescribed_pct_mt": row.prescribed_pct_mt,
                "logged_at": logged_at,
                "logged_by_id": row.technician_id or technician_id,
                "signed_at": logged_at if signed else None,
                "signed_by_id": (row.technician_id or technician_id) if signed else None,
                "reviewed_at": logged_at + timedelta(days=1) if reviewed else None,
                "reviewed_by_id": clinician_id if reviewed else None,
            }
        )
    if logs:
        db.session.execute(insert(TreatmentLog), logs)
    _coil_targets(ctx, sorted(course_mt), technician_id, now)
    ctx.lines.append(f"Treatment logs: {len(logs)} sessions, {len(thresholds)} motor thresholds")


def _coil_targets(
    ctx: DemoContext, course_ids: Sequence[int], technician_id: int | None, now: datetime
) -> None:
    """Each treated course's target, measured at its first session: mostly Beam F3."""
    rng = ctx.rng
    targets = []
    for course_id in course_ids:
        if rng.random() < 0.8:
            method = CoilTargetMethod.BEAM_F3
            measurements = {
                "nasion_inion_cm": round(rng.uniform(33, 39), 1),
                "tragus_tragus_cm": round(rng.uniform(33, 38), 1),
                "head_circumference_cm": round(rng.uniform(53, 60), 1),
            }
        else:
            method, measurements = CoilTargetMethod.RULE_5_5_CM, {"distance_cm": 5.5}
        targets.append(
            {
                "course_id": course_id,
                "method": method,
                "measurements": measurements,
                "set_at": now,
                "set_by_id": technician_id,
            }
        )
    if targets:
        db.session.execute(insert(CoilTarget), targets)

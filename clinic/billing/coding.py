"""CPT coding of every logged treatment, derived from the treatment logs and the motor
threshold records (never typed), per CONTRACT 9 and the CTMSS guidance:

- the course's first delivered treatment is 90867 (it includes mapping and the MT);
- each later delivered treatment is 90868, or 90869 when a motor threshold was
  re-determined at that session, at most once in any 7 days per course (a second
  re-determination within 7 days stays 90868);
- a session stopped early is listed with `billable: false`: it draws on neither 90867
  nor the weekly 90869 (the code it shows is the one it would have had).

A course's codes depend on its whole history, so the lines of a period are coded from
every log of their courses up to the period's end and only then cut to the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.billing.fees import charge_for, fee_table
from clinic.billing.models import Cpt
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.patients.models import Diagnosis
from clinic.scheduling.models import Appointment
from clinic.treatments.models import MotorThreshold, TreatmentLog
from clinic.treatments.treatment_log import LOG_WINDOW_BEFORE_START

FIRST_TREATMENT = Cpt.FIRST_TREATMENT.value
LATER_TREATMENT = Cpt.LATER_TREATMENT.value
MT_REDETERMINATION = Cpt.MT_REDETERMINATION.value
MT_REDETERMINATION_EVERY = timedelta(days=7)
DEPRESSION_PREFIXES = ("F32", "F33")


@dataclass(frozen=True)
class BillingLine:
    """One logged treatment as a claim line."""

    appointment_id: int
    patient_id: int
    course_id: int
    date: date
    cpt: str
    units: int
    icd10: tuple[str, ...]
    authorization_number: str | None
    billable: bool
    charge: Decimal | None = None
    payer: str | None = None
    treatment_id: int | None = None


def ordered_icd10(codes: Iterable[str]) -> tuple[str, ...]:
    """The problem list with depression codes (F32, F33) first: TMS is billed for them."""
    codes = list(dict.fromkeys(codes))
    return tuple(sorted(codes, key=lambda code: not code.upper().startswith(DEPRESSION_PREFIXES)))


def _redetermined(log: TreatmentLog, thresholds: Sequence[MotorThreshold]) -> bool:
    """Whether a motor threshold of the course was measured at this session: inside its
    appointment, or from when it may first be logged (an hour before) to its end."""
    appointment = log.appointment
    opens = appointment.starts_at - LOG_WINDOW_BEFORE_START
    return any(opens <= mt.measured_at <= appointment.ends_at for mt in thresholds)


def code_course(
    logs: Sequence[TreatmentLog], thresholds: Sequence[MotorThreshold]
) -> dict[int, tuple[str, bool]]:
    """(CPT, billable) per appointment id of one course's logs, in session order."""
    codes: dict[int, tuple[str, bool]] = {}
    delivered_any = False
    last_redetermination: date | None = None
    for log in sorted(logs, key=lambda item: (item.appointment.starts_at, item.id)):
        day = clock.to_local(log.appointment.starts_at).date()
        if not delivered_any:
            cpt = FIRST_TREATMENT
        elif _redetermined(log, thresholds) and (
            last_redetermination is None or day - last_redetermination >= MT_REDETERMINATION_EVERY
        ):
            cpt = MT_REDETERMINATION
        else:
            cpt = LATER_TREATMENT
        if log.completed:
            delivered_any = True
            if cpt == MT_REDETERMINATION:
                last_redetermination = day
        codes[log.appointment_id] = (cpt, log.completed)
    return codes


def _utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = clock.clinic_tz()
    return (
        datetime.combine(start, time.min, tz),
        datetime.combine(end + timedelta(days=1), time.min, tz),
    )


def billing_lines(
    start: date,
    end: date,
    *,
    patient_id: int | None = None,
    course_id: int | None = None,
) -> list[BillingLine]:
    """Every logged treatment between `start` and `end` (clinic-local dates, inclusive),
    coded, oldest first. Reads only: the caller audits what it shows."""
    since, until = _utc_bounds(start, end)
    courses_query = (
        select(TreatmentLog.course_id)
        .join(Appointment, Appointment.id == TreatmentLog.appointment_id)
        .where(Appointment.starts_at >= since, Appointment.starts_at < until)
        .distinct()
    )
    if patient_id is not None:
        courses_query = courses_query.where(TreatmentLog.patient_id == patient_id)
    if course_id is not None:
        courses_query = courses_query.where(TreatmentLog.course_id == course_id)
    course_ids = list(db.session.scalars(courses_query))
    if not course_ids:
        return []
    logs = db.session.scalars(
        select(TreatmentLog)
        .join(Appointment, Appointment.id == TreatmentLog.appointment_id)
        .options(
            joinedload(TreatmentLog.appointment),
            joinedload(TreatmentLog.course).joinedload(Course.authorization),
        )
        .where(TreatmentLog.course_id.in_(course_ids), Appointment.starts_at < until)
    ).all()
    thresholds: dict[int, list[MotorThreshold]] = defaultdict(list)
    for threshold in db.session.scalars(
        select(MotorThreshold).where(MotorThreshold.course_id.in_(course_ids))
    ):
        thresholds[threshold.course_id].append(threshold)
    diagnoses: dict[int, list[str]] = defaultdict(list)
    patient_ids = {log.patient_id for log in logs}
    for row in db.session.execute(
        select(Diagnosis.patient_id, Diagnosis.code)
        .where(Diagnosis.patient_id.in_(patient_ids))
        .order_by(Diagnosis.id)
    ):
        diagnoses[row.patient_id].append(row.code)

    by_course: dict[int, list[TreatmentLog]] = defaultdict(list)
    for log in logs:
        by_course[log.course_id].append(log)
    codes: dict[int, tuple[str, bool]] = {}
    for key, course_logs in by_course.items():
        codes.update(code_course(course_logs, thresholds[key]))

    fees = fee_table()
    lines = []
    for log in sorted(logs, key=lambda item: (item.appointment.starts_at, item.id)):
        if log.appointment.starts_at < since:
            continue
        cpt, billable = codes[log.appointment_id]
        authorization = log.course.authorization
        payer = authorization.payer if authorization else None
        lines.append(
            BillingLine(
                appointment_id=log.appointment_id,
                patient_id=log.patient_id,
                course_id=log.course_id,
                date=clock.to_local(log.appointment.starts_at).date(),
                cpt=cpt,
                units=1,
                icd10=ordered_icd10(diagnoses[log.patient_id]),
                authorization_number=authorization.number
                if authorization and authorization.approved
                else None,
                billable=billable,
                charge=charge_for(fees, payer, cpt, 1) if billable else None,
                payer=payer,
                treatment_id=log.id,
            )
        )
    return lines

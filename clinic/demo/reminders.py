"""Demo reminders: the technician gets the daily schedule; upcoming appointments get their
reminders (planned the same way a booking plans them; idempotent, so a rerun adds nothing)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.demo.context import DemoContext
from clinic.extensions import db
from clinic.reminders.models import Reminder, ReminderStatus
from clinic.reminders.planning import plan_appointments
from clinic.scheduling.models import Appointment, AppointmentStatus

# Only the next two weeks: a large history stays fast (the past needs no reminders).
HORIZON = timedelta(days=14)


def load_reminders(ctx: DemoContext) -> None:
    technician = ctx.users.get("technician")
    if technician is not None:
        technician.wants_daily_schedule = True
    now = clock.now()
    upcoming = db.session.scalars(
        select(Appointment)
        .options(joinedload(Appointment.patient))
        .where(
            Appointment.status == AppointmentStatus.SCHEDULED,
            Appointment.starts_at > now,
            Appointment.starts_at < now + HORIZON,
        )
        .order_by(Appointment.starts_at)
    ).all()
    plan_appointments(upcoming, now=now)  # bookings made without signals get theirs too
    pending = db.session.scalar(
        select(func.count()).select_from(Reminder).where(Reminder.status == ReminderStatus.PENDING)
    )
    ctx.lines.append(f"Reminders waiting to be sent: {pending}")

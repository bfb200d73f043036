"""Demo data: a small clinic by default, or years of realistic history for benchmarks.

Each feature adds its part in its own module here; `load` runs them in dependency order
and returns the lines to print (the demo logins first).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy import func, select

from clinic.auth.models import User
from clinic.demo.context import DemoContext
from clinic.demo.outcomes import judge_outcomes, load_outcomes
from clinic.demo.patients import load_patients
from clinic.demo.reminders import load_reminders
from clinic.demo.scheduling import load_scheduling
from clinic.demo.treatments import load_treatments
from clinic.extensions import db

# Feature steps in dependency order; each adds its part to the database and to ctx.
STEPS: tuple[Callable[[DemoContext], None], ...] = (
    load_patients,
    load_scheduling,
    load_treatments,
    load_outcomes,
    load_reminders,
    judge_outcomes,
)
DEMO_PASSWORD = "demo-password-1"
DEMO_USERS = (
    ("admin@demo.clinic.org", "Avery Admin", "admin"),
    ("desk@demo.clinic.org", "Dana Desk", "front_desk"),
    ("tech@demo.clinic.org", "Theo Technician", "technician"),
    ("doctor@demo.clinic.org", "Dr. Casey Clinician", "clinician"),
)


def is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))


def _load_users(ctx: DemoContext) -> None:
    from clinic.auth import services

    ctx.lines.append(f"Demo logins (password {DEMO_PASSWORD}):")
    for email, name, role in DEMO_USERS:
        user = services.user_by_email(email) or services.create_user(
            email=email, name=name, role=role, password=DEMO_PASSWORD
        )
        ctx.users[role] = user
        ctx.lines.append(f"  {role:<11} {email}")


def load(
    *,
    patients: int | None = None,
    years: int | None = None,
    devices: int | None = None,
    sites: int = 1,
    seed: int = 1,
) -> list[str]:
    large = patients is not None or years is not None
    ctx = DemoContext(
        rng=random.Random(seed),
        patients=patients or 30,
        years=years or 1,
        devices=devices or 3,
        large=large,
        sites=sites,
    )
    _load_users(ctx)
    for step in STEPS:
        step(ctx)
    return ctx.lines

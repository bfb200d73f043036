"""Demo data: a small clinic by default, or years of realistic history for benchmarks.

Each feature adds its part in its own module here; `load` runs them in dependency order
and returns the lines to print (the demo logins first).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import func, select

from clinic.auth.models import User
from clinic.extensions import db

DEMO_PASSWORD = "demo-password-1"
DEMO_USERS = (
    ("admin@demo.clinic.org", "Avery Admin", "admin"),
    ("desk@demo.clinic.org", "Dana Desk", "front_desk"),
    ("tech@demo.clinic.org", "Theo Technician", "technician"),
    ("doctor@demo.clinic.org", "Dr. Casey Clinician", "clinician"),
)


@dataclass
class DemoContext:
    """What earlier steps made, for later steps to use."""

    rng: random.Random
    patients: int
    years: int
    devices: int
    large: bool
    users: dict[str, User] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


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
    seed: int = 1,
) -> list[str]:
    large = patients is not None or years is not None
    ctx = DemoContext(
        rng=random.Random(seed),
        patients=patients or 30,
        years=years or 1,
        devices=devices or 3,
        large=large,
    )
    _load_users(ctx)
    for step in STEPS:
        step(ctx)
    return ctx.lines


STEPS: list = []
"""Feature steps, appended in dependency order below (each takes the DemoContext)."""

from clinic.demo.treatments import load_treatments  # noqa: E402

STEPS.append(load_treatments)

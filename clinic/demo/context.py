"""What the demo steps share: the random source, the requested size, what was made."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from clinic.auth.models import User


@dataclass
class DemoContext:
    """What earlier steps made, for later steps to use."""

    rng: random.Random
    patients: int
    years: int
    devices: int
    """Chairs per site."""
    large: bool
    sites: int = 1
    users: dict[str, User] = field(default_factory=dict)
    patient_ids: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

"""Dose titration: a course may start below its prescribed %MT and step up to it.

The shape is a list of steps, `[{"session": 1, "pct_mt": 100}, {"session": 2, "pct_mt":
110}, {"session": 3, "pct_mt": 120}]`: each step holds from its (delivered) session number
on until the next one, the first step is session 1, and the last step is the prescribed
%MT, so every session after it gets the full dose. The prescribed %MT stays the cap: a log
is never above it, and a log below its session's step is allowed and marked.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from clinic.courses.models import Course

MAX_STEPS = 20


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def titration_errors(value: Any, *, prescribed_pct_mt: int, planned_sessions: int) -> list[str]:
    """What is wrong with a titration for this prescription (empty: nothing)."""
    if value is None or value == []:
        return []
    if not isinstance(value, list) or len(value) > MAX_STEPS:
        return [f"A list of at most {MAX_STEPS} steps {{session, pct_mt}}."]
    if not all(isinstance(step, dict) and set(step) == {"session", "pct_mt"} for step in value):
        return ['Each step is {"session": n, "pct_mt": p}.']
    sessions = [step["session"] for step in value]
    doses = [step["pct_mt"] for step in value]
    if not all(_is_whole(n) for n in sessions + doses):
        return ["Sessions and %MT are whole numbers."]
    errors = []
    if sessions[0] != 1 or any(b <= a for a, b in pairwise(sessions)):
        errors.append("Steps start at session 1, in increasing session order.")
    if sessions[-1] > planned_sessions:
        errors.append(f"The last step is within the course's {planned_sessions} sessions.")
    if any(not 1 <= p <= prescribed_pct_mt for p in doses) or any(
        b < a for a, b in pairwise(doses)
    ):
        errors.append(f"Doses step up, from 1 to the prescribed {prescribed_pct_mt}% MT.")
    elif doses[-1] != prescribed_pct_mt:
        errors.append(f"The last step reaches the prescribed {prescribed_pct_mt}% MT.")
    return errors


def clean_titration(value: Any) -> list[dict[str, int]] | None:
    """The stored form of a checked titration: None for none."""
    if not value:
        return None
    return [{"session": step["session"], "pct_mt": step["pct_mt"]} for step in value]


def pct_for_session(course: Course, number: int) -> int:
    """The %MT prescribed for the course's `number`th delivered session."""
    dose = course.prescribed_pct_mt
    for step in course.titration or []:
        if step["session"] <= number:
            dose = step["pct_mt"]
    return min(dose, course.prescribed_pct_mt)


def describe(course: Course) -> str | None:
    """One line for the pages: "100% from session 1, 110% from session 2, ... MT"."""
    steps = course.titration or []
    if not steps:
        return None
    parts = [f"{step['pct_mt']}% from session {step['session']}" for step in steps]
    return ", ".join(parts) + " MT"

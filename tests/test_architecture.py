"""The codebase's own rules, checked on its source so they cannot quietly erode.

- every domain event has a receiver, and features wire receivers one way;
- handlers never commit or roll back (clinic/transaction.py does, once per request);
- no module grows past 600 lines;
- appointment statuses are compared and assigned as AppointmentStatus members, not as
  bare strings.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from blinker import NamedSignal

from clinic import events
from clinic.scheduling.models import AppointmentStatus

CLINIC = Path(__file__).resolve().parent.parent / "clinic"
MAX_MODULE_LINES = 600


def modules() -> Iterator[Path]:
    for path in sorted(CLINIC.rglob("*.py")):
        if "static" not in path.relative_to(CLINIC).parts:
            yield path


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(CLINIC.parent)}:{getattr(node, 'lineno', 0)}"


def signals() -> dict[str, NamedSignal]:
    return {name: value for name, value in vars(events).items() if isinstance(value, NamedSignal)}


def is_event_connect(node: ast.AST) -> bool:
    """`events.<signal>.connect(...)`: a feature subscribing to a domain event."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "connect"
        and isinstance(node.func.value, ast.Attribute)
        and isinstance(node.func.value.value, ast.Name)
        and node.func.value.value.id == "events"
    )


# --- (a) domain events ----------------------------------------------------------------------


def test_every_domain_event_has_a_receiver_once_the_app_is_built(app: Any) -> None:
    unheard = [name for name, signal in signals().items() if not signal.receivers]
    assert not unheard, f"signals nobody receives (remove them or connect a receiver): {unheard}"


def test_features_subscribe_only_in_receivers_connect() -> None:
    """Each feature subscribes in `clinic/<feature>/receivers.py`, inside its `connect()`,
    with strong references (a receiver is never silently garbage-collected)."""
    misplaced, weak = [], []
    for path in modules():
        tree = parse(path)
        in_connect = {
            id(node)
            for function in tree.body
            if isinstance(function, ast.FunctionDef)
            and function.name == "connect"
            and path.name == "receivers.py"
            for node in ast.walk(function)
        }
        for node in ast.walk(tree):
            if not is_event_connect(node):
                continue
            assert isinstance(node, ast.Call)
            if id(node) not in in_connect:
                misplaced.append(where(path, node))
            if not any(
                k.arg == "weak" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in node.keywords
            ):
                weak.append(where(path, node))
    assert not misplaced, f"subscriptions outside a receivers.connect(): {misplaced}"
    assert not weak, f"subscriptions without weak=False: {weak}"


def test_every_receivers_module_has_connect_and_its_feature_calls_it() -> None:
    for path in sorted(CLINIC.glob("*/receivers.py")):
        feature = path.parent.name
        receivers = importlib.import_module(f"clinic.{feature}.receivers")
        assert callable(getattr(receivers, "connect", None)), f"{feature}.receivers.connect"
        init = parse(path.parent / "__init__.py")
        calls = [
            node
            for node in ast.walk(init)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "connect"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "receivers"
        ]
        assert calls, f"clinic/{feature}/__init__.py never calls receivers.connect()"


# --- (b) one commit per request -------------------------------------------------------------


def test_no_handler_commits_or_rolls_back() -> None:
    handlers = [p for p in modules() if p.name in ("routes.py", "api.py")]
    assert handlers
    found = [
        where(path, node)
        for path in handlers
        for node in ast.walk(parse(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("commit", "rollback")
    ]
    assert not found, f"handlers that commit or roll back (clinic/transaction.py does): {found}"


# --- (c) module size ------------------------------------------------------------------------


def test_no_module_over_600_lines() -> None:
    sizes = {str(p.relative_to(CLINIC.parent)): len(p.read_text().splitlines()) for p in modules()}
    too_long = {path: lines for path, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


# --- (d) appointment statuses are enum members -----------------------------------------------

STATUS_VALUES = frozenset(member.value for member in AppointmentStatus)


def bare_statuses(node: ast.AST | None) -> list[ast.Constant]:
    """Plain string constants naming an appointment status in `node` (alone or in a
    tuple/list/set literal)."""
    if isinstance(node, ast.Constant):
        return [node] if isinstance(node.value, str) and node.value in STATUS_VALUES else []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [c for element in node.elts for c in bare_statuses(element)]
    return []


def is_status(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "status"


def status_literals(tree: ast.AST) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(is_status(side) for side in sides):
                for side in sides:
                    yield from bare_statuses(side)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(is_status(target) for target in targets):
                yield from bare_statuses(node.value)
        elif isinstance(node, ast.Call):
            func = node.func
            # Appointment.status.in_(("scheduled", ...)) / .not_in(...)
            if (
                isinstance(func, ast.Attribute)
                and func.attr in ("in_", "not_in")
                and is_status(func.value)
            ):
                for argument in node.args:
                    yield from bare_statuses(argument)
            # Model(status="..."), update(...).values(status="..."), filter_by(status="...")
            for keyword in node.keywords:
                if keyword.arg == "status":
                    yield from bare_statuses(keyword.value)


def test_appointment_statuses_are_never_bare_strings() -> None:
    found = [
        f"{where(path, literal)} {literal.value!r}"
        for path in modules()
        for literal in status_literals(parse(path))
    ]
    assert not found, (
        "use AppointmentStatus members (or the feature's own status enum), not strings: "
        + ", ".join(found)
    )


def test_the_status_check_finds_what_it_should_and_nothing_else() -> None:
    flagged = ast.parse(
        "a.status == 'completed'\n"
        "a.status = 'no_show'\n"
        "x = 'cancelled' != b.status\n"
        "q.where(Appointment.status.in_(('scheduled', 'checked_in')))\n"
        "update(Appointment).values(status='completed')\n"
        "a.status in ('incomplete', AppointmentStatus.CANCELLED)\n"
    )
    assert sorted(c.value for c in status_literals(flagged)) == sorted(
        ["completed", "no_show", "cancelled", "scheduled", "checked_in", "completed", "incomplete"]
    )
    ignored = ast.parse(
        "a.status == AppointmentStatus.COMPLETED\n"
        "response.status_code == 200\n"
        "flash('completed', 'success')\n"
        "a.kind == 'treatment'\n"
        "a.status == 'open'\n"
        "label = 'scheduled'\n"
    )
    assert list(status_literals(ignored)) == []

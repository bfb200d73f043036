"""Architecture: `clinic.scheduling.lifecycle` is the only code that changes an
appointment's status (other features ask it, or react to its events)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

CLINIC = Path(__file__).resolve().parents[2] / "clinic"
OWNER = CLINIC / "scheduling" / "lifecycle.py"
# The demo loader seeds a past history straight into the tables, as a migration would;
# it is not a feature acting on appointments.
SEEDERS = CLINIC / "demo"


def _names(node: ast.AST) -> str:
    """The dotted source of an expression, lower-cased (`self.appointment` -> ...)."""
    return ast.unparse(node).lower()


def _updates_appointments(call: ast.Call) -> bool:
    """`update(Appointment)` or `update(Appointment.__table__)` somewhere down the chain."""
    node: ast.AST = call
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else _names(node.func)
            if name == "update" and node.args and "appointment" in _names(node.args[0]):
                return True
            node = node.func
        else:
            node = node.value
    return False


def status_writes(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, source) of every write of an appointment's status in a module."""
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "status"
                and "appointment" in _names(target.value)
            ):
                yield node.lineno, ast.unparse(node)
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Name)
                and func.id == "setattr"
                and len(node.args) >= 2
                and "appointment" in _names(node.args[0])
                and _names(node.args[1]) == "'status'"
            ):
                yield node.lineno, ast.unparse(node)
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "values"
                and any(keyword.arg == "status" for keyword in node.keywords)
                and _updates_appointments(node)
            ):
                yield node.lineno, ast.unparse(node)[:120]


def test_the_checker_sees_every_kind_of_status_write() -> None:
    source = """
appointment.status = "cancelled"
self.appointment.status = "completed"
setattr(appointment, "status", "no_show")
db.session.execute(update(Appointment).where(Appointment.id == 1).values(status="completed"))
course.status = "on_hold"
update(Course).values(status="completed")
"""
    assert [line for line, _ in status_writes(ast.parse(source))] == [2, 3, 4, 5]


def test_only_the_lifecycle_changes_an_appointments_status() -> None:
    found = [
        f"{path.relative_to(CLINIC.parent)}:{line}: {source}"
        for path in sorted(CLINIC.rglob("*.py"))
        if path != OWNER and SEEDERS not in path.parents
        for line, source in status_writes(ast.parse(path.read_text(), str(path)))
    ]
    assert found == [], "ask clinic.scheduling.lifecycle instead:\n" + "\n".join(found)


def test_the_lifecycle_is_seen_writing_statuses() -> None:
    """The checker would pass vacuously if it could not see the owner's own writes."""
    assert len(list(status_writes(ast.parse(OWNER.read_text())))) >= 4

"""Who may do what: the contract's role table, in one place.

Every page and API view declares the permission it needs with `@requires(...)`; the
role-matrix test walks every registered view and checks each role against this table.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from flask import redirect, request, url_for
from flask_login import current_user

from clinic.errors import NotAllowed, Unauthorized


class Role(StrEnum):
    ADMIN = "admin"
    FRONT_DESK = "front_desk"
    TECHNICIAN = "technician"
    CLINICIAN = "clinician"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Permission(StrEnum):
    ADMINISTER = "administer"  # users, devices, clinic hours/closures, policy, audit
    EDIT_PATIENTS = "edit_patients"  # patients, screenings, booking/moving/cancelling
    PRESCRIBE = "prescribe"  # create or change a course
    CHECK_IN = "check_in"
    LOG_TREATMENTS = "log_treatments"
    REVIEW = "review"  # acknowledge alerts, review logs, sign off screenings
    READ = "read"  # patients, courses, schedule, outcomes
    ENTER_RESPONSES = "enter_responses"  # questionnaire responses, patient links, alerts
    READ_REMINDERS = "read_reminders"
    BILLING = "billing"  # read billing; manage authorizations and documents
    READ_PACKETS = "read_packets"  # authorization packets and letters
    AUTHENTICATED = "authenticated"  # any signed-in staff member (own profile, tokens)


_ALL = frozenset(Role)
ROLE_PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.ADMINISTER: frozenset({Role.ADMIN}),
    Permission.EDIT_PATIENTS: frozenset({Role.ADMIN, Role.FRONT_DESK, Role.CLINICIAN}),
    Permission.PRESCRIBE: frozenset({Role.ADMIN, Role.CLINICIAN}),
    Permission.CHECK_IN: _ALL,
    Permission.LOG_TREATMENTS: frozenset({Role.ADMIN, Role.TECHNICIAN, Role.CLINICIAN}),
    Permission.REVIEW: frozenset({Role.ADMIN, Role.CLINICIAN}),
    Permission.READ: _ALL,
    Permission.ENTER_RESPONSES: _ALL,
    Permission.READ_REMINDERS: frozenset({Role.ADMIN, Role.FRONT_DESK, Role.CLINICIAN}),
    Permission.BILLING: frozenset({Role.ADMIN, Role.FRONT_DESK}),
    Permission.READ_PACKETS: frozenset({Role.ADMIN, Role.FRONT_DESK, Role.CLINICIAN}),
    Permission.AUTHENTICATED: _ALL,
}


PERMISSION_MEANINGS: dict[Permission, str] = {
    Permission.ADMINISTER: "manage users, devices, clinic hours/closures, policies; read audit",
    Permission.EDIT_PATIENTS: "create/edit patients, screenings; book/move/cancel appointments",
    Permission.PRESCRIBE: "prescribe or change a course",
    Permission.CHECK_IN: "check a patient in",
    Permission.LOG_TREATMENTS: "log treatments",
    Permission.REVIEW: "acknowledge alerts, review treatment logs, sign off screenings",
    Permission.READ: "read patients, courses, schedule, outcomes",
    Permission.ENTER_RESPONSES: "enter questionnaire responses, create patient links, read alerts",
    Permission.READ_REMINDERS: "read reminders",
    Permission.BILLING: "read billing; manage authorizations and documents",
    Permission.READ_PACKETS: "read authorization packets and letters",
    Permission.AUTHENTICATED: "own profile: password, second factor, API tokens",
}


def permission_table_markdown() -> str:
    """The role table as Markdown, for docs/security.md (a test keeps the two equal)."""
    header = "| permission | meaning | " + " | ".join(role.value for role in Role) + " |"
    lines = [header, "| --- | --- |" + " --- |" * len(Role)]
    for permission, roles in ROLE_PERMISSIONS.items():
        marks = " | ".join("yes" if role in roles else "no" for role in Role)
        lines.append(f"| `{permission.value}` | {PERMISSION_MEANINGS[permission]} | {marks} |")
    return "\n".join(lines)


def role_can(role: str, permission: Permission) -> bool:
    try:
        return Role(role) in ROLE_PERMISSIONS[permission]
    except ValueError:
        return False


F = TypeVar("F", bound=Callable[..., Any])


def requires(permission: Permission) -> Callable[[F], F]:
    """Refuse the view unless the signed-in user's role has `permission`.

    Pages send anonymous users to the login page; the API answers 401. Either way a
    signed-in user without the permission gets 403 before any input is read.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if request.path.startswith(("/api/", "/fhir/")):  # token paths
                    raise Unauthorized("Send a valid API token: Authorization: Bearer <token>.")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not role_can(current_user.role, permission):
                raise NotAllowed("Your role does not allow this action.")
            return view(*args, **kwargs)

        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Mark a view as deliberately open (login page, patient links, health)."""
    view.required_permission = None  # type: ignore[attr-defined]
    return view

"""Imports every model module so the metadata (and Alembic) sees the whole schema."""

from typing import Any

from clinic.alerts.models import Alert
from clinic.audit.models import AuditEvent
from clinic.auth.models import ApiToken, LoginAttempt, RolePolicy, User
from clinic.billing.models import ClaimExport, ExportedLine, FeeScheduleEntry
from clinic.courses.models import Course, Protocol
from clinic.documents.models import ConsentSignature, Document
from clinic.exports.models import CalendarFeed
from clinic.outcomes.models import (
    QuestionnaireAssignment,
    QuestionnaireLink,
    QuestionnaireResponse,
)
from clinic.patients.models import (
    Authorization,
    ConsentEvent,
    Diagnosis,
    Medication,
    MedicationTrial,
    Patient,
    Screening,
)
from clinic.patients.search import SEARCH_INDEXES, SEARCH_TABLE
from clinic.reminders.models import AppointmentResponse, MessageTemplate, Reminder, ReminderPolicy
from clinic.scheduler.models import SchedulerHeartbeat
from clinic.scheduling.models import (
    Appointment,
    Closure,
    Device,
    MaintenanceWindow,
    OpeningHours,
    Site,
    UserSite,
)
from clinic.treatments.models import (
    CoilTarget,
    MotorThreshold,
    MotorThresholdRecheck,
    TreatmentAmendment,
    TreatmentLog,
)

__all__ = [
    "Alert",
    "ApiToken",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Authorization",
    "CalendarFeed",
    "ClaimExport",
    "Closure",
    "CoilTarget",
    "ConsentEvent",
    "ConsentSignature",
    "Course",
    "Device",
    "Diagnosis",
    "Document",
    "ExportedLine",
    "FeeScheduleEntry",
    "LoginAttempt",
    "MaintenanceWindow",
    "Medication",
    "MedicationTrial",
    "MessageTemplate",
    "MotorThreshold",
    "MotorThresholdRecheck",
    "OpeningHours",
    "Patient",
    "Protocol",
    "QuestionnaireAssignment",
    "QuestionnaireLink",
    "QuestionnaireResponse",
    "Reminder",
    "ReminderPolicy",
    "RolePolicy",
    "SchedulerHeartbeat",
    "Screening",
    "Site",
    "TreatmentAmendment",
    "TreatmentLog",
    "User",
    "UserSite",
]


def autogenerate_compares(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
    """What Alembic's autogenerate compares with the models: not its own version table,
    nor the trigram indexes of patient search, which the migration writes by hand for
    each database (`clinic.patients.search`)."""
    if type_ == "table":
        return name != "alembic_version" and not (name or "").startswith(SEARCH_TABLE)
    return not (type_ == "index" and name in SEARCH_INDEXES)

"""Imports every model module so the metadata (and Alembic) sees the whole schema."""

from clinic.alerts.models import Alert
from clinic.audit.models import AuditEvent
from clinic.auth.models import ApiToken, LoginAttempt, RolePolicy, User
from clinic.courses.models import Course, Protocol
from clinic.outcomes.models import (
    QuestionnaireAssignment,
    QuestionnaireLink,
    QuestionnaireResponse,
)
from clinic.patients.models import (
    Authorization,
    ConsentEvent,
    Diagnosis,
    MedicationTrial,
    Patient,
    Screening,
)
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
    "Closure",
    "ConsentEvent",
    "Course",
    "Device",
    "Diagnosis",
    "LoginAttempt",
    "MaintenanceWindow",
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

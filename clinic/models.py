"""Imports every model module so the metadata (and Alembic) sees the whole schema."""

from clinic.alerts.models import Alert
from clinic.audit.models import AuditEvent
from clinic.auth.models import ApiToken, LoginAttempt, RolePolicy, User
from clinic.courses.models import Course, Protocol
from clinic.patients.models import (
    Authorization,
    ConsentEvent,
    Diagnosis,
    MedicationTrial,
    Patient,
    Screening,
)
from clinic.scheduling.models import Appointment, Closure, Device, MaintenanceWindow, OpeningHours
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
    "MotorThreshold",
    "MotorThresholdRecheck",
    "OpeningHours",
    "Patient",
    "Protocol",
    "RolePolicy",
    "Screening",
    "TreatmentAmendment",
    "TreatmentLog",
    "User",
]

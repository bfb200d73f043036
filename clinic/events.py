"""In-process domain events, so features react to each other without importing each other.

Receivers run synchronously inside the sender's transaction: a reminder planned for a
booking commits or rolls back with the booking. Senders pass keyword arguments only.
"""

from __future__ import annotations

from blinker import Namespace

_events = Namespace()

# sender: None; kwargs: appointments (list[Appointment]), actor_id
appointments_booked = _events.signal("appointments-booked")
# kwargs: appointment, old_starts_at, old_device_id, actor_id
appointment_moved = _events.signal("appointment-moved")
# kwargs: appointment (status already cancelled or no_show), actor_id
appointment_cancelled = _events.signal("appointment-cancelled")
# kwargs: course, old_status, actor_id
course_status_changed = _events.signal("course-status-changed")
# kwargs: user (role not yet changed), role (the new one), actor_id. A receiver refuses
# the change by raising a DomainError (the sites: front desk and technicians at one site).
user_role_changing = _events.signal("user-role-changing")
# kwargs: treatment, actor_id (a treatment log was recorded; see treatment.completed)
treatment_logged = _events.signal("treatment-logged")
# kwargs: patient, channel ("sms" or "email"), granted (bool), actor_id
consent_changed = _events.signal("consent-changed")
# kwargs: patient, actor_id (a medication change means motor threshold must be re-measured)
medication_changed = _events.signal("medication-changed")
# kwargs: alert (a suicidal-ideation alert just closed with its ASQ; alert.risk_result),
# actor_id. An acute positive puts the patient's active courses on hold.
risk_screen_recorded = _events.signal("risk-screen-recorded")
# kwargs: alert (still unacknowledged after the escalation delay; tell every clinician)
alert_escalated = _events.signal("alert-escalated")
# kwargs: link, url (plain, with its token: only at creation), patient, course, deliver (bool:
# send it by the patient's preferred channel, or by `channel` when staff chose one)
questionnaire_link_created = _events.signal("questionnaire-link-created")

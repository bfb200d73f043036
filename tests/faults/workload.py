"""What the fault scenarios do to the clinic and what they check afterwards.

Work goes through the JSON API of the running app (patients, courses, bookings, moves,
cancellations, from concurrent clients). The checks read the sink's record and the
database: no reminder lost, duplicates counted, no message for a time that had already
been cancelled or moved away when it was sent, no overlapping appointments.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.faults.conftest import Clinic
from tests.faults.harness import LiveApi

SESSION_SPACING = timedelta(hours=1)  # a 10 Hz session with its set-up buffer fits in it
CLIENTS = 8


@dataclass(frozen=True)
class Patient:
    patient_id: int
    course_id: int


@dataclass(frozen=True)
class Booking:
    appointment_id: int
    patient_id: int
    device_id: int
    starts_at: datetime


def instant(value: Any) -> datetime:
    """A database, API or iCalendar instant as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    if len(text) == 16 and text.endswith("Z") and "T" in text:  # 20261201T140000Z
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def next_whole_hour(hours_ahead: int) -> datetime:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now + timedelta(hours=1 + hours_ahead)


def in_parallel(calls: list[Any]) -> list[Any]:
    """Run zero-argument callables from CLIENTS concurrent clients; their results in order."""
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(lambda call: call(), calls))


def add_chairs(api: LiveApi, count: int) -> list[int]:
    tag = time.monotonic_ns()
    return [api.ok("POST", "/devices", {"name": f"Chair {tag}-{n}"})["id"] for n in range(count)]


def add_patients(api: LiveApi, count: int) -> list[Patient]:
    """Patients with email consent, a clear screening and a 10 Hz course."""
    codes = [item["code"] for item in api.ok("GET", "/screening-items")["items"]]
    tag = time.monotonic_ns()  # each call registers other people (no possible_duplicate)

    def one(n: int) -> Patient:
        patient = api.ok(
            "POST",
            "/patients",
            {
                "first_name": "Fault",
                "last_name": f"Patient{tag}-{n}",
                "date_of_birth": "1980-05-17",
                "email": f"patient{n}@tms-clinic.org",
                "email_consent": True,
                "preferred_channel": "email",
            },
        )
        api.ok(
            "POST",
            f"/patients/{patient['id']}/screenings",
            {"answers": dict.fromkeys(codes, False)},
        )
        course = api.ok(
            "POST", "/courses", {"patient_id": patient["id"], "protocol": "10hz-ldlpfc"}
        )
        return Patient(patient["id"], course["id"])

    return in_parallel([lambda n=n: one(n) for n in range(count)])


def book_grid(
    api: LiveApi, patients: list[Patient], chairs: list[int], first: datetime, slots: int
) -> list[Booking]:
    """`slots` sessions an hour apart on every chair, from concurrent clients; one patient
    each (a patient has at most one treatment a day)."""
    assert len(patients) == len(chairs) * slots
    plan = [
        (patients[c * slots + slot], chair, first + slot * SESSION_SPACING)
        for c, chair in enumerate(chairs)
        for slot in range(slots)
    ]

    def book(patient: Patient, chair: int, starts_at: datetime) -> Booking:
        body = {
            "course_id": patient.course_id,
            "device_id": chair,
            "starts_at": starts_at.isoformat(),
        }
        answer = api.ok("POST", "/appointments", body)
        return Booking(answer["id"], patient.patient_id, chair, starts_at)

    return in_parallel([lambda p=p, c=c, s=s: book(p, c, s) for p, c, s in plan])


# ------------------------------------------------------------------------------- checks


def email_reminders(clinic: Clinic) -> list[dict[str, Any]]:
    rows = clinic.sql(
        "SELECT id, appointment_id, appointment_starts_at, status, due_at FROM reminders "
        "WHERE kind = 'appointment_reminder' AND channel = 'email'"
    )
    return [
        {
            "id": row[0],
            "appointment_id": row[1],
            "starts_at": instant(row[2]),
            "status": row[3],
            "due_at": instant(row[4]),
        }
        for row in rows
    ]


def settle(clinic: Clinic, *, seconds: float = 60, orphan_after: float = 2) -> None:
    """Wait until every due reminder is finished. Rows left `sending` by a dispatcher that
    died (or lost its database) are orphans: once nothing else moves for `orphan_after`
    seconds, their claim is aged past the lease, as the lease's five minutes would do."""
    deadline = time.monotonic() + seconds
    quiet_since: float | None = None
    last: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        rows = email_reminders(clinic)
        due = sum(1 for r in rows if r["status"] == "pending" and r["due_at"] <= now)
        sending = sum(1 for r in rows if r["status"] == "sending")
        if due == 0 and sending == 0:
            return
        if (due, sending) != last:
            last, quiet_since = (due, sending), time.monotonic()
        elif due == 0 and quiet_since and time.monotonic() - quiet_since > orphan_after:
            expire_claims(clinic)
            quiet_since = time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"reminders did not settle in {seconds} s: {last} (due, sending)")


def expire_claims(clinic: Clinic) -> None:
    interval = "interval '1 hour'" if clinic.backend == "postgresql" else None
    if interval:
        clinic.sql(
            f"UPDATE reminders SET claimed_at = claimed_at - {interval} WHERE status = 'sending'"
        )
    else:
        clinic.sql(
            "UPDATE reminders SET claimed_at = datetime(claimed_at, '-1 hour') "
            "WHERE status = 'sending'"
        )


def retry_now(clinic: Clinic) -> None:
    """Let the retry backoff (a minute or more) pass at once for rows waiting on it."""
    clinic.sql(
        "UPDATE reminders SET next_attempt_at = due_at WHERE status = 'pending' AND attempts > 0"
    )


@dataclass
class Verdict:
    """What the sink received against what the database says."""

    delivered: int
    lost: list[int]
    duplicates: int
    stale: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"delivered={self.delivered} lost={len(self.lost)} duplicates={self.duplicates} "
            f"sent_after_cancel_or_move={len(self.stale)}"
        )


def verdict(
    clinic: Clinic, bookings: list[Booking], changed_at: dict[int, float] | None = None
) -> Verdict:
    """The scenario's reminders (those of `bookings`) at the sink and in the database.
    `changed_at`: appointment id -> when its cancel or move was answered (epoch seconds)."""
    assert clinic.sink is not None
    ids = {b.appointment_id for b in bookings}
    changed_at = changed_at or {}
    messages = [m for m in clinic.sink.messages() if m["appointment_id"] in ids]
    references = Counter(m["reference"] for m in messages)
    rows = [r for r in email_reminders(clinic) if r["appointment_id"] in ids]
    now = datetime.now(UTC)
    lost = [
        r["id"]
        for r in rows
        if (r["status"] == "sent" and references[f"reminder-{r['id']}"] == 0)
        or (r["status"] in ("pending", "sending") and r["due_at"] <= now)
    ]
    appointments = {
        row[0]: (row[1], instant(row[2]))
        for row in clinic.sql("SELECT id, status, starts_at FROM appointments")
    }
    stale = []
    for message in messages:
        appointment_id = message["appointment_id"]
        if appointment_id not in changed_at:
            continue
        status, starts_at = appointments[appointment_id]
        gone = status == "cancelled" or instant(message["starts_at"]) != starts_at
        if gone and message["received_at"] > changed_at[appointment_id]:
            stale.append(message)
    return Verdict(
        delivered=len(messages),
        lost=lost,
        duplicates=sum(count - 1 for count in references.values()),
        stale=stale,
    )


def overlapping_appointments(clinic: Clinic) -> int:
    """Pairs of live appointments that overlap on one chair or for one patient."""
    live = "('scheduled', 'checked_in', 'completed', 'incomplete')"
    rows = clinic.sql(
        "SELECT count(*) FROM appointments a JOIN appointments b ON a.id < b.id "
        "AND (a.device_id = b.device_id OR a.patient_id = b.patient_id) "
        "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at "
        f"WHERE a.status IN {live} AND b.status IN {live}"
    )
    return int(rows[0][0])


def server_errors(api: LiveApi, outage: tuple[float, float] | None = None) -> list[int]:
    """5xx answers (and no answer at all, 0), except a 503 during the outage window."""
    bad = []
    for answer in api.answers:
        in_outage = outage is not None and outage[0] <= answer.at <= outage[1]
        failed = answer.status == 0 or answer.status >= 500
        if failed and not (in_outage and answer.status == 503):
            bad.append(answer.status)
    return bad

"""Delivering due messages from the outbox, in the scheduler process or
`flask reminders dispatch`. Each message is sent at most once per appointment time and
channel, however dispatchers die and databases drop (docs/reminders.md, "Delivery"):

1. claim: in one short transaction, pick due rows (PostgreSQL: FOR UPDATE SKIP LOCKED;
   SQLite: writers are serialised by BEGIN IMMEDIATE) and mark them `sending` with a
   claim token, the claimer and the claim's own time; a claim older than LEASE is stale
   (its dispatcher died) and is claimed again;
2. re-check the batch (consent, address, policy, expiry) and settle what must not go;
3. per message (`clinic.reminders.sending`): record the attempt, guarded by the claim and
   the appointment as it is now, and commit it with the previous message's mark; on
   PostgreSQL lock the appointment and the row until the send is marked, so a cancel or
   a move waits for the message in flight instead of racing it; send.

What a dead dispatcher leaves `sending` is claimed again after the lease: rows it never
began are simply sent; the one it was sending (`attempted_at` set) may have reached the
server, so it is sent again with the same Message-ID, or handed to a human when the
attempt is older than `sending.RESEND_WITHIN` (a restored backup).

Unlike a service this module commits: each step is its own transaction, so no lock is
held longer than one message.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, or_, select, text, update
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.extensions import db
from clinic.reminders import sending
from clinic.reminders.channels import Transport
from clinic.reminders.models import OPEN_ROWS, Reminder, ReminderStatus
from clinic.reminders.policy import get_policy
from clinic.scheduling.models import Appointment

# A claim this old is abandoned: its dispatcher died (each send renews it).
LEASE = timedelta(minutes=5)
DEFAULT_BATCH_SIZE = 100
# Dispatch workers on PostgreSQL unless CLINIC_DISPATCH_WORKERS says otherwise (measured:
# README, Performance).
POSTGRESQL_WORKERS = 4
SQLITE_WORKERS = 2


@dataclass
class DispatchCounts:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    # Found `sending` with an attempt begun by a dispatcher that died: maybe delivered.
    interrupted: int = 0

    def add(self, other: DispatchCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def count(self, outcome: sending.Outcome) -> None:
        if outcome.status == ReminderStatus.PENDING:
            self.retrying += 1
        else:
            setattr(self, outcome.status, getattr(self, outcome.status) + 1)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def dispatcher_name() -> str:
    """host:pid, recorded on the rows a dispatcher claims."""
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


def _claimable(now: datetime, lease_cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        text(OPEN_ROWS),
        or_(
            and_(Reminder.status == ReminderStatus.PENDING, Reminder.next_attempt_at <= now),
            and_(Reminder.status == ReminderStatus.SENDING, Reminder.claimed_at < lease_cutoff),
        ),
    )


def claim_due(now: datetime, batch_size: int) -> tuple[str, list[int]]:
    """Mark up to `batch_size` rows due at `now` `sending` under a new claim token and
    COMMIT. The lease runs from the claim's own time, not the tick's: a tick that has
    been running for a while must not claim rows whose lease has not run out."""
    claimed_at = clock.now()
    claimable = _claimable(now, claimed_at - LEASE)
    query = (
        select(Reminder.id)
        .where(claimable)
        .order_by(Reminder.next_attempt_at, Reminder.id)
        .limit(batch_size)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    token = uuid.uuid4().hex
    claimed: list[int] = []
    if ids:
        # RETURNING, not a read by the token afterwards: nothing indexes the token, and
        # that read went through every reminder ever sent at each batch.
        claimed = list(
            db.session.scalars(
                update(Reminder)
                .where(Reminder.id.in_(ids), claimable)
                .values(
                    status=ReminderStatus.SENDING,
                    claim_token=token,
                    claimed_at=claimed_at,
                    claimed_by=dispatcher_name(),
                    attempts=Reminder.attempts + 1,
                    updated_at=claimed_at,
                )
                .returning(Reminder.id),
                execution_options={"synchronize_session": False},
            )
        )
    db.session.commit()
    return token, claimed


def dispatch_due(now: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> DispatchCounts:
    """One batch: claim due rows, re-check them, then send and mark them one by one over
    one connection per channel."""
    token, ids = claim_due(now, batch_size)
    counts = DispatchCounts(claimed=len(ids))
    if not ids:
        return counts
    policy = get_policy()
    rows = db.session.scalars(
        select(Reminder)
        # The appointment's chair too: its site's clock is the patient's when they have
        # none (`patient_timezone`), and loading it row by row cost a query a chair.
        # Joined, not "select in": one statement, where the batch's ids listed three
        # times over cost the dispatcher more CPU than the claim.
        .options(
            joinedload(Reminder.appointment).joinedload(Appointment.device),
            joinedload(Reminder.patient),
        )
        .where(Reminder.id.in_(ids), Reminder.claim_token == token)
        .order_by(Reminder.next_attempt_at, Reminder.id)
    ).all()
    deliveries: list[sending.Delivery] = []
    settled: list[sending.Outcome] = []
    for row in rows:
        verdict = sending.recheck(row, policy, now)
        if not isinstance(verdict, str):
            settled.append(sending.Outcome(row.id, *verdict))
            continue
        counts.interrupted += row.attempted_at is not None
        too_old = sending.abandoned(row, clock.now())
        if too_old is not None:
            settled.append(too_old)
        else:
            deliveries.append(sending.delivery(row, verdict))
    # Commits: no transaction stays open while the first message is being sent.
    sending.mark(token, settled)
    for outcome in settled:
        counts.count(outcome)
    with Transport(current_app.config) as transport, _cheap_commits():
        for outcome in sending.send_all(deliveries, token, transport, policy, now):
            counts.count(outcome)
    return counts


@contextmanager
def _cheap_commits() -> Iterator[None]:
    """Commit without expiring the session's objects while a batch is sent: each message
    commits, and expiring the batch's hundreds of loaded rows, appointments and
    patients every time costs more than the sending. The per-message steps write with
    UPDATE statements and read what they decide on afresh, never through those objects."""
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = previous
        session.expire_all()


def dispatch_all(
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int | None = None,
    workers: int | None = None,
) -> DispatchCounts:
    """Batches until nothing is due (or `max_batches` claims each, so a scheduler tick
    stays short), by `workers` dispatchers at once (default: `dispatch_workers()`)."""
    workers = workers or dispatch_workers()
    if workers == 1:
        return _drain(now, batch_size, max_batches)
    return _concurrently(now, batch_size, max_batches, workers)


def dispatch_workers() -> int:
    """CLINIC_DISPATCH_WORKERS, else by database: PostgreSQL overlaps concurrent commits'
    disk flushes (group commit), so workers multiply the rate; SQLite has one writer at a
    time, but its write (the attempt, a few statements) is short beside the SMTP round
    trip, so a second worker sends while the first waits for the server (1.4x the rate
    of one, docs/reminders.md); a third added nothing measurable."""
    configured: int | None = current_app.config.get("CLINIC_DISPATCH_WORKERS")
    if configured:
        return configured
    return POSTGRESQL_WORKERS if db.engine.dialect.name == "postgresql" else SQLITE_WORKERS


def _drain(now: datetime, batch_size: int, max_batches: int | None) -> DispatchCounts:
    total = DispatchCounts()
    batches = 0
    while max_batches is None or batches < max_batches:
        counts = dispatch_due(now, batch_size)
        total.add(counts)
        batches += 1
        if counts.claimed < batch_size:
            break
    return total


def _concurrently(
    now: datetime, batch_size: int, max_batches: int | None, workers: int
) -> DispatchCounts:
    """`workers` threads, each a dispatcher of its own (app context, session, database
    connection, SMTP connection) draining claims of `batch_size / workers` rows, so the
    work spreads and as many rows are claimed at a time as by one worker. Each message
    still costs its own durable commit before it goes out: concurrency overlaps the
    commits' disk waits and the servers' round trips, it batches nothing. A worker that
    dies in the process's crash leaves its one message in flight, as any dispatcher.

    The caller's transaction is committed first: on SQLite it may hold the write lock the
    workers queue for. The workers start in a fresh context, as production's threads do
    (on SQLite every transaction BEGIN IMMEDIATE). The first failure is raised once all
    have stopped."""
    db.session.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    size = -(-batch_size // workers)

    def worker() -> DispatchCounts:
        with app.app_context():
            return _drain(now, size, max_batches)

    with ThreadPoolExecutor(workers, thread_name_prefix="dispatch") as pool:
        futures = [pool.submit(worker) for _ in range(workers)]
    total = DispatchCounts()
    for future in futures:
        total.add(future.result())
    return total


def dispatch_job(now: datetime) -> dict[str, int]:
    """The scheduler's every-minute job (bounded so one tick never runs into the next)."""
    return dispatch_all(now, DEFAULT_BATCH_SIZE, max_batches=50).as_dict()

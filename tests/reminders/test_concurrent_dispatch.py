"""Dispatch workers (CLINIC_DISPATCH_WORKERS): several dispatchers in one process, each
with its own session, database connection and SMTP connection, claiming disjoint batches;
every message still reaches the server exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinic.extensions import db
from clinic.reminders.channels import OutgoingMessage, Transport
from clinic.reminders.dispatch import (
    LEASE,
    POSTGRESQL_WORKERS,
    SQLITE_WORKERS,
    dispatch_all,
    dispatch_job,
    dispatch_workers,
)
from clinic.reminders.models import Reminder
from clinic.scheduler import runner
from tests.reminders.conftest import MailServer
from tests.reminders.test_at_most_once import START, Killed, _due_now


def _senders(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts, by thread name, the messages the server accepted."""
    real_send = Transport.send
    by_thread: Counter[str] = Counter()
    lock = threading.Lock()

    def send(self: Transport, message: OutgoingMessage) -> None:
        real_send(self, message)
        with lock:
            by_thread[threading.current_thread().name] += 1

    monkeypatch.setattr(Transport, "send", send)
    return by_thread


def _statuses() -> Counter[str]:
    db.session.rollback()
    return Counter(db.session.scalars(select(Reminder.status)))


def test_workers_deliver_each_message_exactly_once(
    app: Any, mail_server: MailServer, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four workers drain 40 due reminders in claims of two: each message reaches the
    server once, every row is `sent`, and the work was shared."""
    _due_now(40)
    by_thread = _senders(monkeypatch)
    counts = dispatch_all(START, batch_size=8, workers=4)
    assert (counts.claimed, counts.sent) == (40, 40)
    references = Counter(mail_server.references())
    assert len(references) == 40 and set(references.values()) == {1}
    assert _statuses() == {"sent": 40}
    assert sum(by_thread.values()) == 40
    assert len(by_thread) > 1 and all(name.startswith("dispatch") for name in by_thread)


def test_a_worker_that_dies_leaves_only_its_message_in_flight(
    app: Any, mail_server: MailServer, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker dies right after the server took its third message: the others carry
    on, the failure is raised once they have stopped, and after the lease the one message
    in flight goes again with its Message-ID; nothing else is repeated or lost."""
    _due_now(12)
    real_send = Transport.send
    sent: list[str] = []
    lock = threading.Lock()

    def send(self: Transport, message: OutgoingMessage) -> None:
        real_send(self, message)
        with lock:
            sent.append(message.message_id)
            if len(sent) == 3:
                raise Killed

    monkeypatch.setattr(Transport, "send", send)
    with pytest.raises(Killed):
        dispatch_all(START, batch_size=4, workers=2)
    monkeypatch.undo()
    later = START + LEASE + timedelta(seconds=1)
    frozen.move_to(later)
    assert dispatch_all(later, batch_size=4, workers=2).interrupted == 1
    ids = [m["Message-ID"] for m in mail_server.messages]
    assert len(ids) == 13 and len(set(ids)) == 12
    assert [m for m, n in Counter(ids).items() if n == 2] == [sent[2]]
    assert _statuses() == {"sent": 12}


def test_by_default_postgresql_dispatches_with_four_workers_sqlite_with_two(app: Any) -> None:
    postgresql = db.engine.dialect.name == "postgresql"
    assert dispatch_workers() == (POSTGRESQL_WORKERS if postgresql else SQLITE_WORKERS)
    assert (POSTGRESQL_WORKERS, SQLITE_WORKERS) == (4, 2)
    app.config["CLINIC_DISPATCH_WORKERS"] = 3
    assert dispatch_workers() == 3


def test_the_scheduler_job_dispatches_with_the_configured_workers(
    app: Any, mail_server: MailServer, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["CLINIC_DISPATCH_WORKERS"] = 2
    _due_now(6)
    by_thread = _senders(monkeypatch)
    runner.run_job(app, "dispatch_reminders", dispatch_job)
    assert len(mail_server.messages) == 6 and _statuses() == {"sent": 6}
    assert by_thread and all(name.startswith("dispatch") for name in by_thread)

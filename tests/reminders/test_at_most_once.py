"""At most once (issue 10): a dispatcher killed mid-batch repeats at most the message it
was sending, with the same Message-ID; a cancel or a move during a batch stops the
messages not sent yet; the lease runs from the claim's own time."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinic.alerts.models import Alert
from clinic.extensions import db
from clinic.reminders.channels import OutgoingMessage, Transport
from clinic.reminders.dispatch import LEASE, claim_due, dispatch_all, dispatch_due
from clinic.reminders.models import Reminder
from clinic.scheduling.models import Appointment
from tests.reminders.conftest import MailServer, book, cancel, move, reachable_patient
from tests.reminders.test_services import NOW, rows

START = NOW.astimezone(UTC)


class Killed(BaseException):
    """The dispatcher dies at this instruction (SIGKILL: nothing of ours runs after it)."""


def _due_now(count: int, ahead: timedelta = timedelta(hours=1)) -> list[int]:
    """`count` appointments, each with one email reminder due now, in booking order."""
    ids = [
        book(START + ahead + timedelta(minutes=10 * i), reachable_patient(sms_ok=False)).id
        for i in range(count)
    ]
    db.session.execute(Reminder.__table__.update().values(next_attempt_at=START, due_at=START))
    db.session.commit()
    return ids


def _die_after_sending(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """The server accepts message number `count`, then the dispatcher is killed before it
    hears more: the worst moment, the message is out and not marked."""
    real_send = Transport.send
    sent: list[OutgoingMessage] = []

    def send(self: Transport, message: OutgoingMessage) -> None:
        real_send(self, message)
        sent.append(message)
        if len(sent) == count:
            raise Killed

    monkeypatch.setattr(Transport, "send", send)


def _kill_mid_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    _die_after_sending(monkeypatch, 3)
    with pytest.raises(Killed):
        dispatch_due(START, batch_size=10)
    db.session.rollback()
    monkeypatch.undo()


def test_a_dispatcher_killed_mid_batch_repeats_only_the_message_in_flight(
    app: Any, mail_server: MailServer, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _due_now(5)
    _kill_mid_batch(monkeypatch)
    assert len(mail_server.messages) == 3
    later = START + LEASE + timedelta(seconds=1)
    frozen.move_to(later)

    counts = dispatch_all(later)

    # The two it had marked are never claimed again; the third is sent again; the last two
    # (claimed, never begun) go for the first time.
    references = Counter(m["X-Clinic-Message"] for m in mail_server.messages)
    assert len(references) == 5 and sorted(references.values()) == [1, 1, 1, 1, 2]
    [repeated] = [reference for reference, n in references.items() if n == 2]
    message_ids = {
        m["Message-ID"] for m in mail_server.messages if m["X-Clinic-Message"] == repeated
    }
    assert len(message_ids) == 1  # the repeat is recognisable: the same Message-ID
    assert re.fullmatch(rf"<{repeated}\.\d{{10}}@127\.0\.0\.1>", message_ids.pop())
    assert {r.status for r in rows()} == {"sent"}
    assert (counts.claimed, counts.sent, counts.interrupted) == (3, 3, 1)


def test_an_interrupted_attempt_from_long_ago_goes_to_the_front_desk_not_out_again(
    app: Any, mail_server: MailServer, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a restore (or a dispatcher down for hours) a row left `sending` with an
    attempt recorded may have been delivered: a person decides, nothing repeats."""
    _due_now(5, ahead=timedelta(days=1))
    _kill_mid_batch(monkeypatch)
    much_later = START + timedelta(hours=2)
    frozen.move_to(much_later)

    counts = dispatch_all(much_later)

    assert len(mail_server.messages) == 5
    assert len({m["X-Clinic-Message"] for m in mail_server.messages}) == 5
    assert (counts.sent, counts.failed, counts.interrupted) == (2, 1, 1)
    [failed] = rows(status="failed")
    assert "may have been delivered" in (failed.last_error or "")
    alert = db.session.scalar(select(Alert).where(Alert.kind == "reminder_failed"))
    assert alert is not None and alert.patient_id == failed.patient_id


def test_the_lease_runs_from_the_claims_own_time(app: Any, frozen: Any) -> None:
    _due_now(3)
    tick = START
    frozen.move_to(tick + timedelta(minutes=4))  # a long tick claims its last batch late
    _, first = claim_due(tick, batch_size=10)
    later = tick + LEASE + timedelta(seconds=1)  # the tick's lease is over, the claim's is not
    frozen.move_to(later)
    _, second = claim_due(later, batch_size=10)
    assert len(first) == 3 and second == []


def test_a_cancel_or_a_move_during_the_batch_stops_the_claimed_messages_not_yet_sent(
    app: Any, mail_server: MailServer, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = _due_now(3)
    real_send = Transport.send

    def front_desk() -> None:
        with app.app_context():  # its own session and connection, as another request
            move(db.session.get(Appointment, second), START + timedelta(days=1, hours=1))
            cancel(db.session.get(Appointment, third))
            db.session.remove()

    def send(self: Transport, message: OutgoingMessage) -> None:
        real_send(self, message)
        if len(mail_server.messages) == 1:  # while the batch is under way
            desk = threading.Thread(target=front_desk)
            desk.start()
            desk.join(timeout=30)

    monkeypatch.setattr(Transport, "send", send)

    counts = dispatch_due(START, batch_size=10)

    assert counts.claimed == 3 and counts.sent == 1
    assert [m["X-Clinic-Message"] for m in mail_server.messages] == [
        f"reminder-{rows(appointment_id=first)[0].id}"
    ]
    assert [r.status for r in rows(appointment_id=third)] == ["cancelled"]
    old_start = [r for r in rows(appointment_id=second) if r.status != "pending"]
    assert [r.status for r in old_start] == ["cancelled"]


def test_each_further_message_costs_one_round_trip_on_postgresql_two_on_sqlite(
    app: Any, mail_server: MailServer, frozen: Any, count_queries: Any, monkeypatch: Any
) -> None:
    """PostgreSQL: a message's begin (carrying the previous message's `sent`), its COMMIT,
    the next BEGIN and its locking SELECT of appointment and row travel in one pipeline,
    one round trip (four, then three, then one simple query bound on the client, before),
    and nothing else is sent a message. SQLite: the previous `sent` and the begin. The
    batch's own reads do not grow with it (each message's chair was read on its own)."""
    import psycopg

    pipelines = Counter[str]()
    opened = psycopg.Connection.pipeline

    def counted(connection: psycopg.Connection[Any]) -> Any:
        pipelines["opened"] += 1
        return opened(connection)

    monkeypatch.setattr(psycopg.Connection, "pipeline", counted)
    _due_now(2)
    with count_queries() as few:
        assert dispatch_all(START, workers=1).sent == 2
    _due_now(6)
    with count_queries() as many:
        assert dispatch_all(START, workers=1).sent == 6
    if db.engine.dialect.name == "postgresql":
        assert pipelines["opened"] == 2 + 6
        assert many.count == few.count
    else:
        assert not pipelines
        assert many.count - few.count == 2 * (6 - 2)

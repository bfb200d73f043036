"""Two people export the same period's claims at the same moment: each line goes out on
one claim file only, and neither request fails with a 500."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from clinic.billing.claims import export_claims
from clinic.billing.models import ExportedLine
from clinic.extensions import db
from tests.courses.races import Contender, race


def test_concurrent_exports_never_send_a_line_twice(
    app: Any, backend: str, coded_course: Any, front_desk: Any
) -> None:
    actor_id = front_desk.id
    sent: list[int] = []

    def contender() -> Any:
        def write() -> None:
            text, _run = export_claims(actor_id, date(2026, 3, 1), date(2026, 3, 31))
            sent.append(text.count("SV1*"))

        return write

    contenders: list[Contender] = [contender, contender]
    answers = race(app, backend, contenders)
    assert 500 not in answers
    assert answers in ([200, 200], [200, 409])
    exported = db.session.scalar(select(func.count()).select_from(ExportedLine))
    assert exported == 5
    assert sum(sent) == 5  # the loser sent nothing (409, or an empty run after the winner)

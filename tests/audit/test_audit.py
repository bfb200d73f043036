"""The audit trail: append-only in the database, the admin's filter page, the API."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from clinic.audit import services as audit
from clinic.audit.routes import PAGE_SIZE
from clinic.extensions import db
from tests.factories import ApiClient, login


def _add(n: int, **fields: Any) -> None:
    for _ in range(n):
        audit.record(fields.get("actor_id"), fields.get("action", "view"),
                     fields.get("entity_type", "patient"), fields.get("entity_id", 1))  # fmt: skip
    db.session.commit()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET action = 'tampered'", "DELETE FROM audit_events"],
)
def test_the_database_refuses_to_change_or_delete_audit_rows(app: Any, statement: str) -> None:
    _add(1)
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text(statement))
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(text("SELECT action FROM audit_events")) == "view"


def test_address_is_not_inherited_by_work_done_after_a_request(client: Any, admin: Any) -> None:
    login(client, admin)
    event = audit.record(None, "job", "system")
    assert event.address is None


def test_admin_page_filters_by_entity_user_action_and_dates(
    client: Any, admin: Any, clinician: Any
) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=UTC), tick=False):
        audit.record(clinician.id, "view", "patient", 41)
    with time_machine.travel(datetime(2026, 3, 5, 15, 0, tzinfo=UTC), tick=False):
        audit.record(clinician.id, "update", "patient", 42)
        audit.record(admin.id, "create", "device", 7)
    db.session.commit()
    login(client, admin)

    def rows(query: str) -> str:
        response = client.get(f"/admin/audit/?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return response.get_data(as_text=True)

    page = rows("entity_type=patient&entity_id=42")
    assert "patient #42" in page and "patient #41" not in page
    page = rows(f"actor_id={clinician.id}")
    assert "patient #41" in page and "patient #42" in page and "device #7" not in page
    page = rows("action=create")
    assert "device #7" in page and "patient #4" not in page
    page = rows("since=2026-03-01&until=2026-03-02")
    assert "patient #41" in page and "patient #42" not in page
    page = rows("since=2026-03-03")
    assert "patient #42" in page and "patient #41" not in page


def test_admin_page_refuses_bad_filters_with_a_message(client: Any, admin: Any) -> None:
    login(client, admin)
    for query in ("entity_id=abc", "entity_id=" + "9" * 40, "cursor=not-a-cursor",
                  "actor_id=999999", "since=2026-03-05&until=2026-03-01",
                  "since=yesterday"):  # fmt: skip
        response = client.get(f"/admin/audit/?{query}")
        assert response.status_code == 422, query
        assert "problem" in response.get_data(as_text=True), query


def test_admin_page_paginates(client: Any, admin: Any) -> None:
    _add(PAGE_SIZE + 5, entity_id=5)
    login(client, admin)
    first = client.get("/admin/audit/?entity_id=5").get_data(as_text=True)
    assert first.count("patient #5<") == PAGE_SIZE and "Older" in first
    older = re.search(r'href="([^"]*cursor=[^"]*)">Older', first)
    assert older is not None
    second = client.get(html.unescape(older.group(1))).get_data(as_text=True)
    assert second.count("patient #5<") == 5 and "Newest" in second and "Older" not in second


def test_api_pages_by_cursor_through_the_whole_trail_without_repeats(
    api: Any, admin: Any, frozen: Any
) -> None:
    """Events written in the same instant (a frozen clock) still page exactly once each:
    the cursor holds the id too."""
    _add(25, entity_id=9)
    seen: list[int] = []
    cursor = None
    while True:
        query = "/api/v1/audit?entity_id=9&limit=10" + (f"&cursor={cursor}" if cursor else "")
        answer = api.as_(admin).get(query)
        assert answer.status_code == 200, answer.json
        seen += [item["id"] for item in answer.json["items"]]
        cursor = answer.json["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 25 and len(set(seen)) == 25 and seen == sorted(seen, reverse=True)


def test_api_refuses_a_forged_cursor_clearly(api: Any, admin: Any) -> None:
    for cursor in ("garbage", "bm90LWEtZGF0ZXwx", "MjAyNi0wMS0wMVQwMDowMDowMHwx"):
        answer = api.as_(admin).get(f"/api/v1/audit?cursor={cursor}")
        assert answer.status_code == 422, cursor
        assert answer.json["error"]["fields"]["cursor"]


def test_admin_page_statement_count_does_not_grow_with_data(
    client: Any, admin: Any, clinician: Any, count_queries: Any
) -> None:
    login(client, admin)

    def statements() -> int:
        with count_queries() as counter:
            assert client.get("/admin/audit/").status_code == 200
        return counter.count

    _add(3, actor_id=clinician.id)
    few = statements()
    _add(150, actor_id=admin.id)
    _add(150, actor_id=clinician.id)
    assert statements() == few


def test_api_lists_events_of_one_entity_per_the_contract(
    api: ApiClient, admin: Any, clinician: Any
) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=UTC), tick=False):
        audit.record(clinician.id, "view", "patient", 9)
        audit.record(clinician.id, "view", "patient", 10)
    db.session.commit()
    response = api.as_(admin).get("/api/v1/audit?entity_type=patient&entity_id=9")
    assert response.status_code == 200
    [item] = response.json["items"]
    assert {k: item[k] for k in ("actor_id", "action", "entity_type", "entity_id")} == {
        "actor_id": clinician.id,
        "action": "view",
        "entity_type": "patient",
        "entity_id": 9,
    }
    at = datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
    assert at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert at.utcoffset() == timedelta(0)


def test_api_is_for_admins_and_validates_its_query(
    api: ApiClient, admin: Any, clinician: Any
) -> None:
    refused = api.as_(clinician).get("/api/v1/audit")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    for query in ("entity_id=x", "entity_id=" + "9" * 30, "limit=0", "offset=-1"):
        response = api.as_(admin).get(f"/api/v1/audit?{query}")
        assert response.status_code == 422, query
        assert response.json["error"]["code"] == "validation_error"
        assert response.json["error"]["fields"], query

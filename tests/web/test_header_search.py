"""The search in every page's header: a name, an MRN or a phone as people write it; one
match opens the chart. Phones are shown in national format."""

from __future__ import annotations

from typing import Any

from tests.factories import login, make_patient


def test_search_by_phone_as_written_and_one_match_opens_the_chart(
    client: Any, front_desk: Any
) -> None:
    jamie = make_patient(first_name="Jamie", last_name="Rivera", phone="+12125550123")
    make_patient(first_name="Alex", last_name="Rivera", phone="+13125550999")
    login(client, front_desk)
    page = client.get("/patients/").get_data(as_text=True)
    assert 'role="search"' in page and 'name="q"' in page
    found = client.get("/patients/?q=(212) 555-0123&go=1")
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/patients/{jamie.id}")
    by_mrn = client.get(f"/patients/?q={jamie.mrn}&go=1")
    assert by_mrn.headers["Location"].endswith(f"/patients/{jamie.id}")
    both = client.get("/patients/?q=rivera&go=1")
    assert both.status_code == 200 and "Alex" in both.get_data(as_text=True)
    chart = client.get(f"/patients/{jamie.id}").get_data(as_text=True)
    assert "(212) 555-0123" in chart

"""The per-payer fee schedule: set by an admin (page and API), it prices each line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from clinic.billing.coding import billing_lines
from tests.factories import login


def test_each_line_is_charged_its_payers_fee_or_the_any_payer_fee(
    coded_course: Any,
    api: Any,
    admin: Any,
    front_desk: Any,
) -> None:
    for payer, cpt, amount in [
        ("*", "90867", "400.00"),
        ("*", "90868", "250.00"),
        ("Aetna", "90868", "210.50"),
        ("*", "90869", "300.00"),
    ]:
        response = api.as_(admin).put(
            "/api/v1/billing/fees", json={"payer": payer, "cpt": cpt, "amount": amount}
        )
        assert response.status_code == 200, response.json
    lines = billing_lines(date(2026, 3, 1), date(2026, 3, 31))
    assert [line.charge for line in lines] == [
        Decimal("400.00"),  # 90867: no Aetna row, the * row
        None,  # stopped early: not billed
        Decimal("210.50"),  # Aetna's own 90868
        Decimal("300.00"),
        None,
        Decimal("210.50"),
        Decimal("300.00"),
    ]
    listed = api.as_(front_desk).get("/api/v1/billing/fees").json["items"]
    aetna = next(item for item in listed if item["payer"] == "Aetna")
    assert {"payer": "Aetna", "cpt": "90868", "amount": "210.50"}.items() <= aetna.items()
    assert len(listed) == 4


def test_only_an_admin_sets_fees_and_bad_fees_are_422(
    app: Any, api: Any, admin: Any, front_desk: Any
) -> None:
    body = {"payer": "*", "cpt": "90868", "amount": "250.00"}
    assert api.as_(front_desk).put("/api/v1/billing/fees", json=body).status_code == 403
    for bad in [{"cpt": "99213"}, {"amount": "-1"}, {"amount": "abc"}, {"payer": ""}]:
        response = api.as_(admin).put("/api/v1/billing/fees", json=body | bad)
        assert response.status_code == 422, bad
        assert response.json["error"]["code"] == "validation_error"
    fee = api.as_(admin).put("/api/v1/billing/fees", json=body).json
    again = api.as_(admin).put("/api/v1/billing/fees", json=body | {"amount": "260"}).json
    assert again["id"] == fee["id"] and again["amount"] == "260.00"
    assert api.as_(admin).delete(f"/api/v1/billing/fees/{fee['id']}").status_code == 204
    assert api.as_(admin).delete(f"/api/v1/billing/fees/{fee['id']}").status_code == 404


def test_the_admin_page_sets_a_fee(client: Any, admin: Any) -> None:
    login(client, admin)
    page = client.post(
        "/billing/fees", data={"payer": "Medicare", "cpt": "90869", "amount": "199.99"}
    )
    assert page.status_code == 302
    shown = client.get("/billing/fees").get_data(as_text=True)
    assert "Medicare" in shown and "199.99" in shown
    refused = client.post("/billing/fees", data={"payer": "", "cpt": "90869", "amount": "x"})
    assert refused.status_code == 422

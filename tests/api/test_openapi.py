"""The OpenAPI document tells the whole truth (issue 15): what it says for every operation,
without each endpoint repeating it."""

from __future__ import annotations

from typing import Any

import pytest

from clinic import create_app
from tests.conftest import _test_config


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(_test_config("sqlite://"))
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict)
    ]


def test_every_operation_has_a_unique_operation_id_and_no_default(
    document: dict[str, Any],
) -> None:
    operations = _operations(document)
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids)) == len(operations) > 60
    assert not [op for _, _, op in operations if "default" in op["responses"]]
    assert document["paths"]["/api/v1/devices/{device_id}"]["patch"]["operationId"] == (
        "update_device"
    )


def test_each_operation_declares_the_statuses_it_can_answer(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        statuses = set(operation["responses"])
        assert "503" in statuses, (method, path)
        if operation.get("security") != []:
            assert {"401", "403"} <= statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= statuses, (method, path)
        for status in statuses - {"200", "201", "204"}:
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (path, status)


def test_the_contract_409_codes_are_in_the_document(document: dict[str, Any]) -> None:
    courses = document["paths"]["/api/v1/courses"]["post"]["responses"]["409"]
    examples = courses["content"]["application/json"]["examples"]
    assert {"screening_required", "screening_contraindicated"} <= set(examples)
    booking = document["paths"]["/api/v1/appointments"]["post"]["responses"]
    assert "conflict" in booking["409"]["description"]
    assert "404" in booking  # the body names a course and a device


def test_the_error_schema_declares_the_details_409s_carry(document: dict[str, Any]) -> None:
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert {"reason", "clashes", "status", "treatment_id", "matches", "makeup"} <= set(
        detail["properties"]
    )
    assert detail["additionalProperties"] is True
    assert set(detail["required"]) == {"code", "message", "fields"}


def test_formats_are_typed_and_answers_list_required_fields(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    opens = schemas["Hours"]["properties"]["opens_at"]
    assert opens["type"] == "string" and opens["pattern"].startswith("^")
    path_id = document["paths"]["/api/v1/devices/{device_id}"]["parameters"][0]["schema"]
    assert path_id["maximum"] == 2**31 - 1
    assert {"id", "email", "name", "role"} <= set(schemas["Me"]["required"])


def test_401_documents_the_bearer_challenge(document: dict[str, Any]) -> None:
    unauthorized = document["paths"]["/api/v1/me"]["get"]["responses"]["401"]
    assert "WWW-Authenticate" in unauthorized["headers"]

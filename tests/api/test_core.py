"""Health, identity, OpenAPI and the error format."""

from __future__ import annotations

from typing import Any


def test_health_answers_without_auth(client: Any) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json["database"] == "ok"


def test_openapi_document_is_public_and_describes_bearer_auth(client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert "/api/v1/me" in spec["paths"]


def test_me_requires_a_token(client: Any) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_me_with_token(api: Any, clinician: Any) -> None:
    response = api.as_(clinician).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json == {
        "id": clinician.id,
        "email": clinician.email,
        "name": clinician.name,
        "role": "clinician",
    }


def test_unknown_api_path_answers_json_404(api: Any, clinician: Any) -> None:
    response = api.as_(clinician).get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_security_headers_on_every_answer(client: Any) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_exclusion_and_factories_build_a_booked_course(app: Any, backend: str) -> None:
    from datetime import UTC, datetime

    from tests.factories import make_appointment, make_course

    course = make_course()
    appointment = make_appointment(course, datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    assert appointment.ends_at.tzinfo is not None
    assert appointment.course.protocol.slot_minutes == 48  # 37.1 min rounded up + 10

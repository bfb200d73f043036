"""A FHIR R4 read API (CONTRACT 10) over patients, outcomes, appointments and treatments,
for the referring psychiatrist's EHR and registries. Read only; the API's tokens and
roles; `application/fhir+json`; errors as OperationOutcome.

The contract's table names `/fhir/...` while the rest of the API lives under `/api/v1`,
so the same views answer at both `/fhir/...` and `/api/v1/fhir/...` (one blueprint,
registered twice)."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("fhir", __name__)
PREFIXES = {"fhir": "/fhir", "fhir_api": "/api/v1/fhir"}


def init_app(app: Flask) -> None:
    from clinic.extensions import csrf
    from clinic.fhir import routes  # noqa: F401  (registers the views)

    csrf.exempt(bp)
    for name, prefix in PREFIXES.items():
        app.register_blueprint(bp, url_prefix=prefix, name=name)

"""The JSON API at /api/v1: flask-smorest for schemas and the OpenAPI document.

Each feature package registers its own smorest blueprint through `register`; errors are
answered by `clinic.errors` for the whole app (flask-smorest's own handler is turned off
so the API and the pages share one error format).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask, current_app, json
from flask_smorest import Api
from flask_smorest.spec.plugins import integerconverter2paramschema

from clinic.api import guards
from clinic.api.blueprint import Blueprint
from clinic.api.fields import field_properties
from clinic.api.guards import IdConverter
from clinic.api.openapi import TruthPlugin, finish_document
from clinic.extensions import csrf

API_PREFIX = "/api/v1"


# Built from a dict: a field named `fields` would shadow Schema.fields in a class body.
# The keys after `fields` are the details some refusals add (a 409 names what clashes);
# they are declared so strict clients accept them, and more may come (additionalProperties).
class _OpenSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE


ErrorDetailSchema = _OpenSchema.from_dict(
    {
        "code": ma.fields.String(
            required=True, metadata={"description": "Machine-readable", "example": "conflict"}
        ),
        "message": ma.fields.String(required=True, metadata={"description": "For people"}),
        "fields": ma.fields.Dict(
            keys=ma.fields.String(),
            values=ma.fields.List(ma.fields.String()),
            required=True,
            metadata={"description": "Messages per invalid field (empty when none)"},
        ),
        "reason": ma.fields.String(metadata={"description": "Why a 409 refused, precisely"}),
        "status": ma.fields.String(metadata={"description": "The row's current status"}),
        "course_status": ma.fields.String(metadata={"description": "The course's status"}),
        "treatment_id": ma.fields.Integer(metadata={"description": "The log already made"}),
        "clashes": ma.fields.List(
            ma.fields.Dict(),
            metadata={"description": "What a booking clashes with: `{code, message, ...}`"},
        ),
        "matches": ma.fields.List(
            ma.fields.Dict(),
            metadata={"description": "Possible duplicates: `{id, mrn}`"},
        ),
        "makeup": ma.fields.Dict(metadata={"description": "The make-up session booked"}),
        "moved": ma.fields.List(ma.fields.Dict(), metadata={"description": "Sessions moved"}),
    },
    name="ErrorDetailSchema",
)


class ErrorSchema(ma.Schema):
    """The contract's error body: {"error": {"code", "message", "fields", ...details}}."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)


class ClinicApi(Api):
    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None  # every status is declared (clinic.api.openapi)

    def _openapi_json(self) -> Any:
        """The document, finished (`clinic.api.openapi.finish_document`)."""
        return current_app.response_class(
            json.dumps(finish_document(self.spec.to_dict()), indent=2),
            mimetype="application/json",
        )

    def _register_error_handlers(self) -> None:
        """clinic.errors answers every error, API and pages alike."""


API_CONFIG: dict[str, Any] = {
    "API_TITLE": "TMS clinic API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": API_PREFIX,
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Scheduling, treatment logging and outcomes for a TMS clinic. "
                "Authenticate with `Authorization: Bearer <token>` (from `flask users token` "
                "or the profile page). Instants are ISO 8601 and answered in UTC; dates are "
                "YYYY-MM-DD; local times HH:MM in the clinic's time zone. Errors answer "
                '`{"error": {"code", "message", "fields"}}`.'
            )
        },
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    },
}


def init_api(app: Flask, blueprints: list[Blueprint]) -> ClinicApi:
    """One Api per app (tests build many apps; the Api keeps per-app spec state)."""
    for key, value in API_CONFIG.items():
        app.config.setdefault(key, value)
    api = ClinicApi(app, spec_kwargs={"extra_plugins": [TruthPlugin(app)]})
    api.register_converter(IdConverter, integerconverter2paramschema)
    api.ma_plugin.converter.add_attribute_function(field_properties)
    for blueprint in blueprints:
        csrf.exempt(blueprint)  # token-authenticated: cookies are ignored on the API
        api.register_blueprint(blueprint, url_prefix=API_PREFIX)
    guards.install(app)
    return api

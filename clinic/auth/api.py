"""GET /api/v1/me: who the bearer token belongs to (the token itself is read by auth's
request loader, `clinic.auth._load_token_user`)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user

from clinic.api.blueprint import Blueprint
from clinic.permissions import Permission, requires

blp = Blueprint("auth_api", __name__, description="Identity")


class MeSchema(ma.Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String()


@blp.route("/me")
@requires(Permission.AUTHENTICATED)
@blp.response(200, MeSchema)
def me() -> Any:
    """The user the token belongs to."""
    return current_user

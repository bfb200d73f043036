"""The API's blueprint: flask-smorest's, given one instance a schema class.

webargs builds a schema from a class at every request, and marshmallow copies every
declared field to do it: on the day's appointment list that cost more than the API's own
checks (0.1 ms of 2.4, measured in process). A schema instance is read, never changed,
while it loads or dumps, so one serves every request and thread.
"""

from __future__ import annotations

import functools
from typing import Any

import flask_smorest
import marshmallow as ma


@functools.cache
def _instance_of(schema: type[ma.Schema]) -> ma.Schema:
    return schema()


class Blueprint(flask_smorest.Blueprint):
    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(schema, type) and issubclass(schema, ma.Schema):
            schema = _instance_of(schema)
        return super().arguments(schema, *args, **kwargs)

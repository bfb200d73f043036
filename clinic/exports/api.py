"""/api/v1: calendar feeds and CSV exports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import Response, current_app, url_for
from flask_login import current_user

from clinic.api.blueprint import Blueprint
from clinic.api.openapi import declares
from clinic.api.schemas import MAX_ID, list_schema
from clinic.exports import csv_exports, feeds
from clinic.permissions import Permission, requires
from clinic.scheduling import sites
from clinic.scheduling.api_fields import site_id_field

blp = Blueprint("exports_api", __name__, description="Calendar feeds and CSV exports")

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).date()
LATEST = datetime(2100, 1, 1, tzinfo=UTC).date()


def _id(**kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


class FeedCreateSchema(ma.Schema):
    device_id = _id(metadata={"description": "A chair's feed (admin)", "example": 1})
    technician_id = _id(metadata={"description": "A technician's feed (yours, or admin)"})

    @ma.validates_schema
    def exactly_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("device_id" in data) == ("technician_id" in data):
            raise ma.ValidationError("Give exactly one of device_id or technician_id.")


class FeedSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    device_id = ma.fields.Integer(allow_none=True, required=True)
    technician_id = ma.fields.Integer(allow_none=True, required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class NewFeedSchema(FeedSchema):
    url = ma.fields.Url(
        required=True,
        metadata={"description": "The secret feed URL (shown once; no login needed)"},
    )


FeedListSchema = list_schema(FeedSchema)


@blp.route("/calendar-feeds", methods=["POST"])
@requires(Permission.READ)
@blp.arguments(FeedCreateSchema, example={"device_id": 1})
@blp.response(201, NewFeedSchema)
def create_feed(args: dict[str, Any]) -> Any:
    """A secret, revocable text/calendar URL with the next 8 weeks of a chair's or a
    technician's live sessions: times, chair and room only, never a patient or anything
    clinical. Yours with `technician_id` = your id; any other is an admin's (403)."""
    feed, token = feeds.create_feed(actor=current_user, **args)
    base = current_app.config["CLINIC_BASE_URL"].rstrip("/")
    url = base + url_for("exports.calendar_feed", token=token)
    fields = ("id", "device_id", "technician_id", "created_at")
    return {**{name: getattr(feed, name) for name in fields}, "url": url}


@blp.route("/calendar-feeds", methods=["GET"])
@requires(Permission.READ)
@blp.response(200, FeedListSchema)
def list_feeds() -> Any:
    """Live feeds: an admin sees all, others their own (the URLs are never shown again)."""
    return {"items": feeds.list_feeds(current_user)}


@blp.route("/calendar-feeds/<int:feed_id>", methods=["DELETE"])
@requires(Permission.READ)
@blp.response(204)
def revoke_feed(feed_id: int) -> Any:
    """Revoke a feed: its URL answers 404 from now on (as does this, a second time)."""
    feeds.revoke_feed(feed_id, actor=current_user)
    return None


class SiteExportQuerySchema(ma.Schema):
    site_id = site_id_field("Only this site (default: every site you work at).")


class ExportQuerySchema(SiteExportQuerySchema):
    since = ma.fields.Date(
        data_key="from",
        validate=ma.validate.Range(min=EARLIEST, max=LATEST),
        metadata={"description": "First day (appointments, outcomes); default 90 days ago"},
    )
    until = ma.fields.Date(
        data_key="to",
        validate=ma.validate.Range(min=EARLIEST, max=LATEST),
        metadata={"description": "Last day, included; default today"},
    )


def _csv(kind: str, query: dict[str, Any]) -> Response:
    return csv_exports.csv_response(
        kind,
        actor_id=current_user.id,
        since=query.get("since"),
        until=query.get("until"),
        site_ids=sites.visible_sites(current_user.id, query.get("site_id")),
    )


CSV_DOC = {"description": "CSV (RFC 4180, a header row; columns in docs/api.md)"}


@blp.route("/exports/patients.csv")
@requires(Permission.ADMINISTER)
@blp.arguments(SiteExportQuerySchema, location="query")
@blp.response(200, content_type="text/csv", **CSV_DOC)
def export_patients(query: dict[str, Any]) -> Any:
    """Every patient, one row each; of one site with `site_id` (the patients with an
    appointment there); an admin limited to sites gets theirs (admin; audited)."""
    return _csv("patients", query)


@blp.route("/exports/appointments.csv")
@requires(Permission.ADMINISTER)
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200, content_type="text/csv", **CSV_DOC)
def export_appointments(query: dict[str, Any]) -> Any:
    """Appointments starting within the days (UTC dates), at one site with `site_id`
    (admin; audited)."""
    return _csv("appointments", query)


@blp.route("/exports/outcomes.csv")
@requires(Permission.ADMINISTER)
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200, content_type="text/csv", **CSV_DOC)
@declares(422, codes=["validation_error"])
def export_outcomes(query: dict[str, Any]) -> Any:
    """Questionnaire responses administered within the days, of the patients seen at
    one site with `site_id` (admin; audited)."""
    return _csv("outcomes", query)

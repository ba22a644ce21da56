"""The one error shape, produced here for every failure the HTTP layer can meet.

{"code": "validation_failed", "message": "...",
 "fields": {"targeting.countries.0": ["Unknown country code 'XX'..."]},
 "request_id": "..."}
"""

from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from flask import Flask, jsonify
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from adsmanager import request_ids
from adsmanager.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PaymentDeclined,
    PermissionDenied,
    Unavailable,
)

log = logging.getLogger(__name__)

# Machine-readable codes of the HTTP errors that do not come from a service.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


class ErrorSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Machine-readable code."})
    message = ma.fields.String(required=True, metadata={"description": "For people."})
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={
            "description": "Messages per field, by dotted path; empty when no field is to blame."
        },
    )
    request_id = ma.fields.String(required=True)


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    headers: dict | None = None,
):
    body = {
        "code": code,
        "message": message,
        "fields": fields or {},
        "request_id": request_ids.current(),
    }
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"a.b.0": [...]}``; whole-object messages keep
    the parent's path (``body`` at the top)."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            for name, texts in flatten(value, path).items():
                flat.setdefault(name, []).extend(texts)
        return flat
    texts = messages if isinstance(messages, list) else [messages]
    if texts and all(isinstance(text, str) for text in texts):
        return {prefix or "body": list(texts)}
    flat = {}
    for index, item in enumerate(texts):
        for name, inner in flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
            flat.setdefault(name, []).extend(inner)
    return flat


def _from_webargs(data: dict) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for location, messages in (data.get("messages") or {}).items():
        top = "body" if location == "json" else location
        if isinstance(messages, dict):
            flat = flatten(messages)
            flat = {top if name == "body" else name: texts for name, texts in flat.items()}
        else:
            flat = {top: list(messages)}
        for name, texts in flat.items():
            fields.setdefault(name, []).extend(texts)
    return fields


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if status == 400 and "messages" in data:
        return error_response(
            400, "malformed_json", "The request body is not valid JSON.", _from_webargs(data)
        )
    if status == 422:
        return error_response(
            422, "validation_failed", "The request has invalid fields.", _from_webargs(data)
        )
    message = data.get("message") or error.description or error.name
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(status, HTTP_CODES.get(status, "error"), message, headers=headers)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)

    @app.errorhandler(InvalidInput)
    def _invalid(error: InvalidInput):
        return error_response(422, error.code, error.message, error.fields)

    @app.errorhandler(NotFound)
    def _not_found(error: NotFound):
        return error_response(404, error.code, error.message)

    @app.errorhandler(PermissionDenied)
    def _forbidden(error: PermissionDenied):
        return error_response(403, error.code, error.message)

    @app.errorhandler(Conflict)
    def _conflict(error: Conflict):
        return error_response(409, error.code, error.message)

    @app.errorhandler(PaymentDeclined)
    def _declined(error: PaymentDeclined):
        return error_response(402, error.code, error.message)

    @app.errorhandler(Unavailable)
    def _unavailable(error: Unavailable):
        return error_response(503, error.code, error.message, headers={"Retry-After": "30"})

    @app.errorhandler(IntegrityError)
    def _integrity(error: IntegrityError):
        log.warning("integrity error: %s", error.orig)
        return error_response(
            409, "conflict", "The change conflicts with the stored data; reload and try again."
        )

    @app.errorhandler(OperationalError)
    def _database_down(error: OperationalError):
        log.error("database error: %s", error.orig)
        return error_response(
            503,
            "unavailable",
            "The database is not reachable; try again.",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(
            500, "internal", "Something went wrong on our side; the request id helps us find it."
        )

"""What every resource of the REST API shares: the blueprint with role checks, strict
schemas, money and id fields, list pages."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache

import flask_smorest
import marshmallow as ma
from flask import current_app, request
from marshmallow import fields, validate
from webargs.flaskparser import FlaskParser

from adsmanager.api.auth import requires
from adsmanager.config import Settings
from adsmanager.db.database import Database
from adsmanager.services.errors import invalid
from adsmanager.services.funding import make_gateway
from adsmanager.services.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from adsmanager.serving.runtime import Serving
from adsmanager.vocabulary import Role

# 10^15 micros is a billion units of any currency: far above any real bid or budget, far
# below the 2^63 of a BIGINT and the 2^53 that JavaScript clients read exactly.
MAX_MICROS = 10**15


class StrictParser(FlaskParser):
    """Unknown query parameters are errors too, like unknown body fields; JSON that Python
    cannot read is malformed like JSON that is not JSON."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (RecursionError, ValueError) as error:
            # Valid JSON, but nested deeper than Python's recursion limit or holding an
            # integer longer than Python converts (4,300 digits).
            raise json.JSONDecodeError(f"unreadable JSON ({error})", "body", 0) from None


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()

    def requires(self, *roles: Role) -> Callable:
        """Authenticate with an API key of one of ``roles`` before anything else runs."""

        def decorate(view: Callable) -> Callable:
            guarded = requires(*roles)(view)
            guarded = self.alt_response(401, response="UNAUTHORIZED")(guarded)
            guarded = self.alt_response(403, response="FORBIDDEN")(guarded)
            return self.doc(**{"x-required-roles": [str(role) for role in roles]})(guarded)

        return decorate


class StrictSchema(ma.Schema):
    """Unknown fields are an error, not silently dropped; so is text that no PostgreSQL
    text column can hold (NUL characters, lone surrogates)."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _reject_unstorable_text(self, data, **kwargs):
        if isinstance(data, Mapping):
            problems = {}
            for key, value in data.items():
                problem = _text_problem(key) or _text_problem(value)
                if problem:
                    problems[str(key)] = [problem]
            if problems:
                raise ma.ValidationError(problems)
        return data


def _text_problem(value) -> str | None:
    # Nested objects are left to their own schema's hook, so each string is looked at once.
    # Lists are walked without recursion: a body may nest them a thousand deep.
    pending = [value]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "Must not contain NUL characters."
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "Must be valid Unicode text."
        elif isinstance(value, list):
            pending.extend(reversed(value))
    return None


# Every time the API takes lies in [1970, 9000): shown in any time zone, it stays a date
# Python can hold (year 9999 in UTC is year 10000 in Tokyo, and an OverflowError).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class Timestamp(fields.AwareDateTime):
    """ISO 8601 with an offset; handed to services in UTC."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            moment = None  # within a day of year 1 or 9999
        if moment is None or not EARLIEST <= moment < LATEST:
            raise ma.ValidationError("Must be from 1970-01-01 up to 9000-01-01 (UTC).")
        return moment


class FullMatch(validate.Regexp):
    """``validate.Regexp`` that matches the whole value. The pattern keeps the ``^...$`` form
    that openapi.yaml publishes (ECMA regex, where ``$`` is the end of the text), but Python's
    ``$`` also matches before a final newline and ``Regexp`` uses ``re.match``: so the value
    must match the pattern in full here (``re.fullmatch``)."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


def Micros(**kwargs) -> fields.Integer:  # noqa: N802 - reads like a field class
    kwargs.setdefault("validate", validate.Range(min=1, max=MAX_MICROS))
    return fields.Integer(strict=True, **kwargs)


def Name(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=[validate.Length(min=1, max=200), _not_blank], **kwargs)


def Id(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.Length(min=1, max=40), **kwargs)


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


class PageArgs(StrictSchema):
    page_size = fields.Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE)
    )
    page_token = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "next_page_token of the previous page."},
    )


@cache
def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    name = item_schema.__name__.removesuffix("Schema") + "Page"
    return ma.Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "next_page_token": fields.String(
                allow_none=True,
                required=True,
                metadata={
                    "description": "Pass as page_token for the next page; null on the last page."
                },
            ),
        },
        name=name,
    )


def attributes(obj, schema: type[ma.Schema], **extra) -> dict:
    """The attributes of ``obj`` that ``schema`` dumps, plus ``extra``: for responses that
    add something (a one-time secret) to a stored object."""
    return {name: getattr(obj, name) for name in schema().dump_fields} | extra


def database() -> Database:
    return current_app.extensions["adsmanager.db"]


_serving_lock = threading.Lock()


def serving() -> Serving:
    """The worker's auction runtime, built on first use (after gunicorn forks)."""
    extensions = current_app.extensions
    if "adsmanager.serving" not in extensions:
        with _serving_lock:
            if "adsmanager.serving" not in extensions:
                extensions["adsmanager.serving"] = Serving(
                    extensions["adsmanager.settings"], extensions["adsmanager.db"]
                )
    return extensions["adsmanager.serving"]


IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": 100},
    "description": "Send the same key again (a retry) and get the same result, done once.",
}


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header, if any; 422 when it is not a sane key."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 100 or not key.isprintable() or not key.isascii():
        raise invalid("Idempotency-Key", "Must be 1 to 100 printable ASCII characters.")
    return key


def stripe_gateway():
    """The Stripe gateway of this app, or None when Stripe is not configured."""
    extensions = current_app.extensions
    if "adsmanager.stripe" not in extensions:
        extensions["adsmanager.stripe"] = make_gateway(extensions["adsmanager.settings"])
    return extensions["adsmanager.stripe"]


def settings() -> Settings:
    return current_app.extensions["adsmanager.settings"]

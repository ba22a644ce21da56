"""Forms that validate exactly as the API does.

A page turns what was posted into the very dict the API's marshmallow schema loads, loads it
with that schema and hands the result to the same service. Errors from either come back as
:class:`Invalid`, with messages keyed by *form field* name, so the template can show each
one next to its field; ``""`` holds the messages about the form as a whole. Nothing is
saved when there is an error: the schema runs before the service, and a service writes only
after its own checks pass.

Money is typed in the currency's units ("12.50") and becomes micros here; the API's rules
(range, Stripe steps, bid against budget) then apply to the micros.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import marshmallow as ma

from adsmanager.api.errors import flatten
from adsmanager.services.errors import InvalidInput
from billing.money import parse_amount

Errors = dict[str, list[str]]


class Invalid(Exception):
    """A form's errors by form field name (``""`` for the form as a whole)."""

    def __init__(self, errors: Errors) -> None:
        super().__init__(errors)
        self.errors = errors


def field_names(errors: Mapping[str, list[str]], names: Mapping[str, str] | None = None) -> Errors:
    """API paths (``targeting.countries.2``, ``bid_micros``) → form field names.

    A path is looked up in ``names``, then with its last part dropped, and so on, so an
    error about one item of a list lands on the list's field; a path nobody names keeps
    its own name; ``body`` (the whole request) becomes ``""``."""
    names = names or {}
    renamed: Errors = {}
    for path, messages in errors.items():
        field = "" if path == "body" else _field_of(path, names)
        renamed.setdefault(field, []).extend(messages)
    return renamed


def _field_of(path: str, names: Mapping[str, str]) -> str:
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in names:
            return names[prefix]
    while len(parts) > 1 and parts[-1].isdigit():
        parts.pop()
    return ".".join(parts)


def load(schema: ma.Schema, data: dict[str, Any], names: Mapping[str, str] | None = None) -> dict:
    """``schema.load(data)``, its errors raised as :class:`Invalid` by form field."""
    try:
        return schema.load(data)
    except ma.ValidationError as error:
        raise Invalid(field_names(flatten(error.messages), names)) from None


@contextmanager
def service_errors(names: Mapping[str, str] | None = None) -> Iterator[None]:
    """A service's :class:`InvalidInput` raised again as :class:`Invalid` by form field."""
    try:
        yield
    except InvalidInput as error:
        raise Invalid(field_names(error.fields, names) or {"": [error.message]}) from None


def amount(text: str, currency: str) -> int:
    """A typed amount as micros; a typing mistake as a ``ValidationError`` for the field."""
    try:
        return parse_amount(text, currency)
    except ValueError as error:
        raise ma.ValidationError(str(error)) from None


class Collected:
    """Errors found while turning text into the API's types, before the schema runs: every
    field is looked at, so the person sees all mistakes at once."""

    def __init__(self) -> None:
        self.errors: Errors = {}

    def amount(self, field: str, text: str, currency: str, *, optional: bool = False):
        """Micros of a typed amount, or None (blank and optional, or a mistake noted)."""
        if optional and not text.strip():
            return None
        try:
            return amount(text, currency)
        except ma.ValidationError as error:
            self.errors.setdefault(field, []).extend(error.messages)
            return None

    def integer(self, field: str, text: str, *, optional: bool = False):
        text = text.strip()
        if optional and not text:
            return None
        if not (text.isascii() and text.isdigit()):
            self.errors.setdefault(field, []).append("Enter a whole number.")
        elif len(text) > 15:  # far above any count a form takes, far below int()'s limit
            self.errors.setdefault(field, []).append("That number is too large.")
        else:
            return int(text)
        return None

    def load(
        self, schema: ma.Schema, data: dict[str, Any], names: Mapping[str, str] | None = None
    ) -> dict:
        """:func:`load`, with this object's errors reported too (and preferred for a field
        whose text could not be read: the schema only saw it missing)."""
        try:
            loaded = load(schema, data, names)
        except Invalid as invalid:
            raise Invalid({**invalid.errors, **self.errors}) from None
        self.raise_if_any()
        return loaded

    def raise_if_any(self, more: Errors | None = None) -> None:
        merged: Errors = {field: list(messages) for field, messages in self.errors.items()}
        for field, messages in (more or {}).items():
            merged.setdefault(field, []).extend(messages)
        if merged:
            raise Invalid(merged)


def placed(errors: Errors, shown: Iterable[str]) -> Errors:
    """Errors of fields the form does not show go to the whole form's messages, named by
    their path, so no message is ever lost."""
    shown = set(shown)
    result: Errors = {}
    for field, messages in errors.items():
        if field in shown or field == "":
            result.setdefault(field, []).extend(messages)
        else:
            result.setdefault("", []).extend(f"{field}: {message}" for message in messages)
    return result

"""Rules for an ad group's audience: targeting lists, brand-safety exclusions, dayparting.

The API's schemas check shapes (lists of strings, hours are integers); the rules here
check meaning, so every entry point (API, web forms, CLI) applies the same ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from adsmanager.services import reference
from adsmanager.services.errors import FieldErrors
from adsmanager.vocabulary import (
    AGE_GROUPS,
    GENDERS,
    OPERATING_SYSTEMS,
    TARGETING_FIELDS,
    Weekday,
)

SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*\Z")


def _closed(allowed: Iterable[str], what: str) -> Callable[[str], str | None]:
    allowed = tuple(allowed)
    listed = ", ".join(allowed)
    return lambda value: (
        None if value in allowed else f"Unknown {what} '{value}'; use one of {listed}."
    )


def _country(value: str) -> str | None:
    if value in reference.country_codes():
        return None
    return f"Unknown country code '{value}'; use ISO 3166-1 alpha-2 in upper case, e.g. 'US'."


def _language(value: str) -> str | None:
    if value in reference.language_codes():
        return None
    return f"Unknown language code '{value}'; use ISO 639-1 in lower case, e.g. 'en'."


def slug_error(value: str) -> str | None:
    if SLUG.match(value):
        return None
    return f"'{value}' is not a category slug (lower-case letters, digits, '-' or '_')."


def _creator_id(value: str) -> str | None:
    return None if value.strip() == value and value else "Creator ids must not be blank or padded."


CHECKS: dict[str, Callable[[str], str | None]] = {
    "countries": _country,
    "languages": _language,
    "age_groups": _closed(AGE_GROUPS, "age group"),
    "genders": _closed(GENDERS, "gender"),
    "os": _closed(OPERATING_SYSTEMS, "os"),
    "interests": slug_error,
    "excluded_categories": slug_error,
    "excluded_creators": _creator_id,
}


def check_targeting(targeting: dict[str, list[str]], errors: FieldErrors) -> dict[str, list[str]]:
    """Return the complete targeting (every list present; empty means everyone)."""
    complete = {}
    for name in TARGETING_FIELDS:
        values = list(targeting.get(name) or [])
        seen: set[str] = set()
        for index, value in enumerate(values):
            path = f"targeting.{name}.{index}"
            if value in seen:
                errors.add(path, f"'{value}' is listed twice.")
            seen.add(value)
            problem = CHECKS[name](value)
            if problem:
                errors.add(path, problem)
        complete[name] = values
    return complete


def check_dayparting(
    windows: list[dict[str, Any]] | None, errors: FieldErrors
) -> list[dict[str, Any]] | None:
    """Windows are half-open hour ranges ``[start_hour, end_hour)`` on the listed days;
    overlapping windows simply add up."""
    if windows is None:
        return None
    if not windows:
        errors.add("dayparting", "Give at least one window, or null to serve at all hours.")
    for index, window in enumerate(windows):
        path = f"dayparting.{index}"
        days = list(window["days"])
        if len(set(days)) != len(days):
            errors.add(f"{path}.days", "A day is listed twice.")
        start, end = window["start_hour"], window["end_hour"]
        if end <= start:
            errors.add(f"{path}.end_hour", "end_hour must be after start_hour.")
    order = [day.value for day in Weekday]
    return [
        {
            "days": sorted({str(day) for day in window["days"]}, key=order.index),
            "start_hour": window["start_hour"],
            "end_hour": window["end_hour"],
        }
        for window in windows
    ]

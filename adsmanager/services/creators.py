"""Creators of the creator fund, registered (and kept up to date) by the platform under the
platform's own ids: one at a time through the API, or in bulk from a file.

Both ways go through the same set-based upsert, so a creator sent again with the same
values is left untouched (its ``updated_at`` too).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TextIO

from sqlalchemy import select

from adsmanager.db.creator_fund import Creator
from adsmanager.db.database import Database
from adsmanager.services import csv_import, reference
from adsmanager.services.bulk_upsert import (
    CREATED,
    UNCHANGED,
    UPDATED,
    UpsertSpec,
    chunked,
    in_transaction,
    upsert,
)
from adsmanager.services.errors import InvalidInput, NotFound
from adsmanager.services.pagination import Page, paginate
from billing.fund_rules import Standing

# The platform's ids: creators and videos alike. The patterns are published in openapi.yaml
# (ECMA regex), so they keep "^...$"; match them with fullmatch, as Python's "$" also matches
# before a final newline.
PLATFORM_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
STRIPE_ACCOUNT_PATTERN = r"^acct_[A-Za-z0-9_]{1,250}$"
MIN_AGE, MAX_AGE = 13, 130
# Counts fit a BIGINT with room to spare, so a creator's sums over a month of many videos
# do too (10^12 × 31 days × 100,000 videos < 2^63), and JavaScript reads each exactly.
MAX_COUNT = 10**12
FIELDS = ("country", "verified_age", "followers", "standing", "joined_on", "stripe_account_id")
# Creators per transaction of a bulk upsert.
CHUNK = 5_000

_PLATFORM_ID = re.compile(PLATFORM_ID_PATTERN)
_STRIPE_ACCOUNT = re.compile(STRIPE_ACCOUNT_PATTERN)
SPEC = UpsertSpec(Creator.__table__, key=("id",), compared=FIELDS)

DUPLICATE_ID = "duplicate_id"
INVALID = "invalid"


def is_platform_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_PLATFORM_ID.fullmatch(value))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def problems(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every rule a creator's values break, by field; empty when they are fine."""
    found: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        found.setdefault(name, []).append(message)

    if not is_platform_id(values.get("id")):
        add("id", "Must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'.")
    country = values.get("country")
    if not isinstance(country, str) or country not in reference.country_codes():
        add(
            "country",
            f"Unknown country code '{country}'; use ISO 3166-1 alpha-2 in upper case, e.g. 'US'.",
        )
    age = values.get("verified_age")
    if age is not None and not (_whole(age) and MIN_AGE <= age <= MAX_AGE):
        add("verified_age", f"Must be a whole number from {MIN_AGE} to {MAX_AGE}, or null.")
    followers = values.get("followers")
    if not (_whole(followers) and 0 <= followers <= MAX_COUNT):
        add("followers", f"Must be a whole number from 0 to {MAX_COUNT}.")
    standing = values.get("standing")
    if not isinstance(standing, str) or standing not in set(Standing):
        add("standing", f"Must be one of {', '.join(Standing)}.")
    joined = values.get("joined_on")
    if joined is not None and (not isinstance(joined, date) or isinstance(joined, datetime)):
        add("joined_on", "Must be a date or null.")
    account = values.get("stripe_account_id")
    if account is not None and not (
        isinstance(account, str) and _STRIPE_ACCOUNT.fullmatch(account)
    ):
        add("stripe_account_id", "Must be null or 'acct_' and 1 to 250 letters, digits or '_'.")
    return found


def _row(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": values["id"]} | {
        name: Standing(values[name]) if name == "standing" else values.get(name) for name in FIELDS
    }


def _write(session, rows: list[dict], now: datetime) -> list[str]:
    return upsert(session, SPEC, rows, now, on_insert={"created_at": now})


def put(
    db: Database, creator_id: str, values: Mapping[str, Any], now: datetime
) -> tuple[Creator, bool]:
    """Create or replace the creator ``creator_id``; the creator, and whether it is new."""
    values = {**values, "id": creator_id}
    found = problems(values)
    if found:
        if "id" in found:
            found["creator_id"] = found.pop("id")
        raise InvalidInput(found)

    def work(session) -> tuple[Creator, bool]:
        [status] = _write(session, [_row(values)], now)
        return session.get(Creator, creator_id), status == CREATED

    return in_transaction(db, work)


def get(db: Database, creator_id: str) -> Creator:
    with db.read() as session:
        creator = session.get(Creator, creator_id) if is_platform_id(creator_id) else None
    if creator is None:
        raise NotFound("Creator")
    return creator


def list_creators(
    db: Database, page_size: int, page_token: str | None, standing: Standing | None = None
) -> Page:
    """Creators in id order."""
    statement = select(Creator)
    if standing is not None:
        statement = statement.where(Creator.standing == standing)
    with db.read() as session:
        return paginate(session, statement, Creator.id, page_size, page_token, is_platform_id)


@dataclass(frozen=True)
class RowError:
    index: int  # in the rows given
    reason: str  # invalid (see fields) or duplicate_id
    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return len(self.errors)


def upsert_creators(
    db: Database,
    rows: Iterable[Mapping[str, Any]],
    now: datetime,
    on_rows: Callable[[int], None] | None = None,
) -> BulkResult:
    """Create or replace many creators (each a mapping like the body of PUT
    /v1/creators/{id}, plus ``id``; ``standing`` as a string or a Standing).

    Rows that break a rule, and repeats of an id given earlier, are written nothing and
    come back in ``errors`` by their index; the others are written CHUNK to a transaction
    (executemany INSERT and UPDATE; unchanged creators are not touched). ``on_rows(n)`` is
    told after each chunk how many rows it covered."""
    result = BulkResult()
    seen: dict[str, int] = {}
    for chunk in chunked(enumerate(rows), CHUNK):
        valid: list[dict] = []
        for index, values in chunk:
            found = problems(values)
            if found:
                message = "; ".join(f"{name}: {' '.join(texts)}" for name, texts in found.items())
                result.errors.append(RowError(index, INVALID, message, found))
            elif values["id"] in seen:
                message = f"Creator {values['id']} was given before, at row {seen[values['id']]}."
                result.errors.append(RowError(index, DUPLICATE_ID, message))
            else:
                seen[values["id"]] = index
                valid.append(_row(values))
        if valid:
            statuses = in_transaction(db, lambda session, rows=valid: _write(session, rows, now))
            result.created += statuses.count(CREATED)
            result.updated += statuses.count(UPDATED)
            result.unchanged += statuses.count(UNCHANGED)
        if on_rows:
            on_rows(len(chunk))
    return result


CSV_COLUMNS = ("id", "country", "verified_age", "followers", "standing", "joined_on")
CSV_OPTIONAL = ("stripe_account_id",)


def _parse(row: dict[str, str]) -> dict[str, Any]:
    csv_import.check_width(row)
    return {
        "id": csv_import.required_text(row, "id"),
        "country": csv_import.required_text(row, "country"),
        "verified_age": csv_import.integer(row, "verified_age"),
        "followers": csv_import.required_integer(row, "followers"),
        "standing": csv_import.required_text(row, "standing"),
        "joined_on": csv_import.day(row, "joined_on"),
        "stripe_account_id": csv_import.text(row, "stripe_account_id"),
    }


def import_csv(
    db: Database,
    file: TextIO,
    now: datetime,
    on_rows: Callable[[int], None] | None = None,
) -> csv_import.ImportReport:
    """Upsert the creators of a CSV file with the columns
    ``id,country,verified_age,followers,standing,joined_on,stripe_account_id`` (an empty
    cell is null). ValueError when the header is not right."""
    report = csv_import.ImportReport()
    lines: list[int] = []

    def parsed():
        for line, row in csv_import.rows(file, CSV_COLUMNS, CSV_OPTIONAL):
            report.rows += 1
            try:
                values = _parse(row)
            except csv_import.CellError as error:
                report.reject(line, csv_import.MALFORMED, str(error))
                if on_rows:
                    on_rows(1)
                continue
            lines.append(line)
            yield values

    result = upsert_creators(db, parsed(), now, on_rows)
    report.created, report.updated, report.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )
    for error in result.errors:
        report.reject(lines[error.index], error.reason, error.message)
    return report

"""Idempotent, set-based upserts by a natural key, for ingestion and imports.

A batch costs a handful of statements whatever its size: one SELECT of the rows stored
under the batch's keys, one INSERT ... ON CONFLICT DO NOTHING of the new ones, one UPDATE of
those whose values changed. A row whose values are the same is not written at all, so its
``updated_at`` keeps saying when it last changed.

On SQLite the INSERT and the UPDATE are executemany. On PostgreSQL each column travels as
one array parameter (``unnest``, ``= ANY``): a multi-row INSERT of 1000 rows has 13,000
parameters, and parsing that statement (in psycopg, then in the server) costs more than
writing the rows; arrays keep each statement small and fast, whatever the batch size.

A key that another transaction inserted between our SELECT and our INSERT (PostgreSQL;
SQLite serialises writers) comes back from the INSERT as not inserted; it is read again,
now committed, and treated like any stored row. Rows are written in key order, so two
batches that share keys wait for each other instead of deadlocking; a deadlock that
happens anyway (PostgreSQL picks a victim) is retried by :func:`in_transaction`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Column, Table, and_, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from adsmanager.db.database import Database
from adsmanager.db.upsert import array_item_type, insert_rows

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
# A stored row whose ``owner`` column differs from the new row's: written nothing.
OWNER_CONFLICT = "owner_conflict"

# Keys per IN (...): SQLite allows 32,766 bound parameters in a statement.
LOOKUP_CHUNK = 5_000
# PostgreSQL's deadlock_detected and serialization_failure: the transaction can be re-run.
_RETRYABLE = {"40P01", "40001"}
ATTEMPTS = 3

T = TypeVar("T")
Key = tuple[Any, ...]


@dataclass(frozen=True)
class UpsertSpec:
    table: Table
    key: tuple[str, ...]  # the columns of a unique constraint
    compared: tuple[str, ...]  # the values that make a row "changed"
    owner: str | None = None  # a column a stored row never changes (its creator)


def _key_of(spec: UpsertSpec, row: dict) -> Key:
    return tuple(row[name] for name in spec.key)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(session: Session, column: Column, values: Sequence[Any]):
    """``column IN values``: on PostgreSQL ``= ANY(array)``, one parameter, one plan."""
    if _postgres(session):
        return column == any_(
            bindparam(None, list(values), type_=ARRAY(array_item_type(column.type)))
        )
    return column.in_(values)


def _load(session: Session, spec: UpsertSpec, keys: Sequence[Key]) -> dict[Key, dict]:
    """The stored rows under ``keys``. A composite key is looked up by IN on each column
    (the unique index serves it), and the few extra combinations are dropped here."""
    wanted = set(keys)
    columns = [spec.table.c[name] for name in (*spec.key, *spec.compared)]
    if spec.owner:
        columns.append(spec.table.c[spec.owner])
    found: dict[Key, dict] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        conditions = [
            among(session, spec.table.c[name], sorted({key[position] for key in chunk}))
            for position, name in enumerate(spec.key)
        ]
        for row in session.execute(select(*columns).where(*conditions)).mappings():
            key = _key_of(spec, row)
            if key in wanted:
                found[key] = dict(row)
    return found


def _compare(spec: UpsertSpec, stored: dict, row: dict) -> str:
    if spec.owner and stored[spec.owner] != row[spec.owner]:
        return OWNER_CONFLICT
    if all(stored[name] == row[name] for name in spec.compared):
        return UNCHANGED
    return UPDATED


def upsert(
    session: Session,
    spec: UpsertSpec,
    rows: Sequence[dict],
    now: datetime,
    on_insert: dict[str, Any] | None = None,
) -> list[str]:
    """Write ``rows`` (distinct keys; each with the key, compared and owner columns) and
    say for each what happened: CREATED, UPDATED, UNCHANGED or OWNER_CONFLICT.

    New rows also get ``on_insert`` and ``updated_at = now``; changed rows get their
    compared columns and ``updated_at = now``; other columns of a stored row stay."""
    keys = [_key_of(spec, row) for row in rows]
    statuses: list[str | None] = [None] * len(rows)
    stored = _load(session, spec, keys)
    fresh: list[int] = []
    for index, key in enumerate(keys):
        if key in stored:
            statuses[index] = _compare(spec, stored[key], rows[index])
        else:
            fresh.append(index)
    if fresh:
        inserted = _insert(session, spec, [rows[i] for i in fresh], now, on_insert or {})
        raced = [i for i in fresh if keys[i] not in inserted]
        for index in fresh:
            if keys[index] in inserted:
                statuses[index] = CREATED
        if raced:
            # Inserted meanwhile by a transaction that has committed since: compare with it.
            stored = _load(session, spec, [keys[i] for i in raced])
            for index in raced:
                statuses[index] = _compare(spec, stored[keys[index]], rows[index])
    changed = [rows[i] for i, status in enumerate(statuses) if status == UPDATED]
    if changed:
        _update(session, spec, changed, now)
    return statuses  # type: ignore[return-value]


def _insert(
    session: Session, spec: UpsertSpec, rows: list[dict], now: datetime, on_insert: dict
) -> set[Key]:
    """Insert the rows whose key is still free; the keys inserted."""
    table = spec.table
    names = (*spec.key, *spec.compared, *((spec.owner,) if spec.owner else ()))
    values = [
        {name: row[name] for name in names} | on_insert | {"updated_at": now}
        for row in sorted(rows, key=lambda row: _key_of(spec, row))
    ]
    insert, parameters = insert_rows(session, table, values)
    statement = insert.on_conflict_do_nothing(index_elements=list(spec.key)).returning(
        *(table.c[name] for name in spec.key)
    )
    return {tuple(row) for row in session.execute(statement, parameters)}


def _update(session: Session, spec: UpsertSpec, rows: list[dict], now: datetime) -> None:
    table = spec.table
    values = [
        {f"key_{name}": row[name] for name in spec.key}
        | {name: row[name] for name in spec.compared}
        | {"updated_at": now}
        for row in sorted(rows, key=lambda row: _key_of(spec, row))
    ]
    if _postgres(session):
        _update_arrays(session, spec, values)
        return
    statement = update(table).where(
        and_(*(table.c[name] == bindparam(f"key_{name}") for name in spec.key))
    )
    session.execute(statement, values)


def _arrays(session: Session, table: Table, values: list[dict]) -> tuple[list[str], dict]:
    """``unnest(CAST(:p0 AS type[]), ...)`` arguments for the columns of ``values`` (named
    ``name`` or ``key_name``), and their parameters: each column's values as one list,
    converted as SQLAlchemy would convert them one by one."""
    dialect = session.get_bind().dialect
    casts, parameters = [], {}
    for position, name in enumerate(values[0]):
        column = table.c[name.removeprefix("key_")]
        convert = column.type.bind_processor(dialect)
        cells = [row[name] for row in values]
        parameters[f"p{position}"] = [convert(cell) for cell in cells] if convert else cells
        item_type = array_item_type(column.type).compile(dialect)
        casts.append(f"CAST(:p{position} AS {item_type}[])")
    return casts, parameters


def _update_arrays(session: Session, spec: UpsertSpec, values: list[dict]) -> None:
    quote = session.get_bind().dialect.identifier_preparer.quote
    casts, parameters = _arrays(session, spec.table, values)
    aliases = [quote(name) for name in values[0]]
    assignments = [
        f"{quote(name)} = new.{quote(name)}" for name in values[0] if not name.startswith("key_")
    ]
    matches = [f"stored.{quote(name)} = new.{quote('key_' + name)}" for name in spec.key]
    session.execute(
        text(
            f"UPDATE {quote(spec.table.name)} AS stored SET {', '.join(assignments)}"
            f" FROM unnest({', '.join(casts)}) AS new({', '.join(aliases)})"
            f" WHERE {' AND '.join(matches)}"
        ),
        parameters,
    )


def _retryable(error: OperationalError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _RETRYABLE


def in_transaction(db: Database, work: Callable[[Session], T]) -> T:
    """``work`` in one transaction, run again (from the start) when PostgreSQL aborted it
    for a deadlock or a serialization failure."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with db.transaction() as session:
                return work(session)
        except OperationalError as error:
            if attempt == ATTEMPTS or not _retryable(error):
                raise
    raise AssertionError("unreachable")


def chunked(items: Iterable[T], size: int) -> Iterable[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

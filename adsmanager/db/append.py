"""Appends many rows to a table at once: PostgreSQL's COPY there, an executemany INSERT on
SQLite.

The auction's log writer runs in the serving worker, so its CPU is taken from requests. For
120 served ads (a fifth of a second at half load) COPY costs the worker 1.1–1.7 ms of CPU
against 5.4–6.7 ms for SQLAlchemy's INSERT, and the batch takes half the time. SQLite has no
COPY, and there the database's own work dominates the INSERT's cost, so the INSERT stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from psycopg import sql
from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator


def append_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, by column key) into ``table`` in
    ``session``'s transaction.

    Meant for append-only logs of plain values: str, int, float, bool, None, aware datetimes
    for ``UTCDateTime`` and JSON documents of those. COPY writes JSON and TypeDecorator
    columns as their types would bind them and hands everything else to psycopg as it is,
    so an int column wants an int (INSERT would round a float). JSON's NaN and infinity
    become null there. Every column with a Python-side default must be given: COPY would
    not apply it. On PostgreSQL a failure is psycopg's exception, not SQLAlchemy's."""
    if not rows:
        return
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError("append_rows needs the same keys in every row")
    defaulted = [c.key for c in table.columns if c.default is not None and c.key not in rows[0]]
    if defaulted:
        raise ValueError(f"append_rows needs a value for {', '.join(defaulted)} in each row")
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    keys = list(rows[0])
    dialect = session.get_bind().dialect
    columns = [(key, _to_copy(table.c[key].type, dialect)) for key in keys]
    name = (table.schema, table.name) if table.schema else (table.name,)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*name), sql.SQL(", ").join(sql.Identifier(table.c[key].name) for key in keys)
    )
    # The session's own connection: the rows commit or roll back with its transaction.
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [row[key] if convert is None else convert(row[key]) for key, convert in columns]
            )


def _to_copy(column_type, dialect) -> Callable[[Any], Any] | None:
    """What turns a row's value into what COPY stores, as the column type's own bind
    processing would: JSON as its text (SQLAlchemy's JSON stores None as JSON null, and so
    does this), a TypeDecorator's value as it binds it."""
    if isinstance(column_type, JSON):
        return _json_text
    if isinstance(column_type, TypeDecorator):
        return lambda value: column_type.process_bind_param(value, dialect)
    return None


def _json_text(value: Any) -> str:
    # What SQLAlchemy's JSON type would write with the standard library's json: dict keys
    # that are numbers become strings, and subclasses of float and int (numpy's float64)
    # are numbers, so a row of plain values stores the same on either database.
    return orjson.dumps(value, default=_number, option=orjson.OPT_NON_STR_KEYS).decode()


def _number(value: Any) -> float | int:
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")

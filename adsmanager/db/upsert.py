"""INSERT ... ON CONFLICT for the database in use (PostgreSQL and SQLite share the syntax)."""

from __future__ import annotations

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, model):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def insert_rows(session: Session, table: Table, rows: list[dict]):
    """An INSERT of ``rows`` (dicts with the same keys, at least one) and the parameters to
    execute it with: ``session.execute(statement, parameters)``. Add the ON CONFLICT and
    RETURNING clauses to the statement as to ``insert_for``'s.

    SQLite takes the rows as executemany parameters, which SQLAlchemy sends as multi-row
    INSERTs. PostgreSQL gets one array per column, unnested by the server: the statement's
    text is the same for any number of rows, so psycopg converts it once. A multi-row INSERT
    of 500 events (6,500 placeholders) was converted anew for every batch, which took a third
    of the events endpoint's time."""
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError("insert_rows needs the same keys in every row")
    if session.get_bind().dialect.name != "postgresql":
        return sqlite.insert(table), rows
    names = list(rows[0])
    arrays = (
        func.unnest(
            *(
                bindparam(
                    f"{name}_values",
                    [row[name] for row in rows],
                    type_=postgresql.ARRAY(table.c[name].type, dimensions=1),
                )
                for name in names
            )
        )
        .table_valued(*names)
        .render_derived()
    )
    source = select(*(arrays.c[name] for name in names))
    return postgresql.insert(table).from_select(names, source), None

"""INSERT ... ON CONFLICT for the database in use (PostgreSQL and SQLite share the syntax)."""

from __future__ import annotations

from sqlalchemy import String, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine


def insert_for(session: Session, model):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def insert_rows(session: Session, table: Table, rows: list[dict]):
    """An INSERT of ``rows`` (dicts with the same keys, at least one) and the parameters to
    execute it with: ``session.execute(statement, parameters)``. Add the ON CONFLICT and
    RETURNING clauses to the statement as to ``insert_for``'s.

    SQLite takes the rows as executemany parameters. PostgreSQL gets one array per column,
    unnested by the server: the statement's text is the same for any number of rows, so
    psycopg converts it once. A multi-row INSERT of 500 events (6,500 placeholders) was
    converted anew for every batch, which took a third of the events endpoint's time. A
    column left out of the rows takes its default once for the whole statement there, so
    give every column whose default is computed in Python (a timestamp, say) a value."""
    if not rows:
        raise ValueError("insert_rows needs at least one row")
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
                    type_=postgresql.ARRAY(array_item_type(table.c[name].type), dimensions=1),
                )
                for name in names
            )
        )
        .table_valued(*names)
        .render_derived()
    )
    source = select(*(arrays.c[name] for name in names))
    return postgresql.insert(table).from_select(names, source), None


def array_item_type(column_type: TypeEngine) -> TypeEngine:
    """The array's element type: a string column's without its length. PostgreSQL cuts a
    string cast to varchar(n) down to n characters, where storing it in the column refuses
    it; unbounded, the column's own limit applies."""
    if isinstance(column_type, String) and column_type.length is not None:
        return String()
    return column_type

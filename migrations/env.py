"""Alembic environment: the URL comes from the environment; the Flask app is never built."""

from alembic import context
from sqlalchemy import event, text

from adsmanager.config import database_url_from_env
from adsmanager.db import metadata
from adsmanager.db.database import make_engine

config = context.config


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=metadata,
        compare_type=True,
        # SQLite alters tables by copying them; batch mode does that for us.
        render_as_batch=True,
        **kwargs,
    )


def run_offline() -> None:
    _configure(
        url=config.get_main_option("sqlalchemy.url") or database_url_from_env(), literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or database_url_from_env())
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        # Batch mode alters a SQLite table by copying it and dropping the old one, which
        # foreign keys refuse while other rows refer to it. They are off while migrating
        # (a PRAGMA inside a transaction would do nothing) and checked at the end.
        event.listen(engine, "connect", _foreign_keys_off)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                # Two processes starting on an empty database would both create the tables:
                # the second waits here, then finds them made. The lock is the session's,
                # released when the connection closes (the engine is disposed below).
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
                connection.commit()  # Alembic commits only a transaction it began itself
            before = _broken_foreign_keys(connection) if sqlite else set()
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                # SQLite's DDL is not transactional for Alembic: each step has committed.
                # Only rows a migration broke are its fault; older ones would stop every
                # later start for nothing.
                broken = _broken_foreign_keys(connection) - before
                if broken:
                    raise RuntimeError(f"a migration left rows pointing nowhere: {broken}")
    finally:
        engine.dispose()


# An arbitrary constant that names "migrating this database" among advisory locks.
LOCK_KEY = 7_200_114_100


def _foreign_keys_off(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys=OFF")


def _broken_foreign_keys(connection) -> set[tuple]:
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    connection.commit()  # the PRAGMA began a transaction; Alembic runs its own
    return {tuple(row) for row in rows}


if context.is_offline_mode():
    run_offline()
else:
    run_online()

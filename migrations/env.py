"""Alembic environment: the URL comes from the environment; the Flask app is never built."""

from alembic import context

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
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

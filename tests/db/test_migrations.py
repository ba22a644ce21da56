"""Migrations are the schema: they build the database, match the models, and run both ways."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from adsmanager.db import Database, metadata, migrate
from adsmanager.db.base import utcnow
from adsmanager.db.creator_fund import PayoutRun
from adsmanager.services import payout_runs
from adsmanager.vocabulary import PeriodKind
from tests.fund_data import FINANCE, YESTERDAY, set_rules


def test_models_and_migrations_do_not_drift(db: Database):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_database_is_at_head_after_upgrade(db: Database):
    assert migrate.is_at_head(db.engine)
    assert migrate.current_revisions(db.engine) == migrate.head_revisions()


def test_downgrade_to_base_and_upgrade_again(database_url, db: Database):
    migrate.downgrade(database_url, "base")
    try:
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        assert migrate.current_revisions(db.engine) == frozenset()
    finally:
        migrate.upgrade(database_url)
        # Pooled SQLite connections may still hold the schema from before the tables were
        # dropped and made again; reflection on one of them then disagreed with itself
        # (a foreign key in the table's SQL but not in its PRAGMA), once in a full run.
        db.engine.dispose()
    assert set(inspect(db.engine).get_table_names()) >= set(metadata.tables)
    assert migrate.is_at_head(db.engine)


def test_constraint_names_follow_the_convention(db: Database):
    inspector = inspect(db.engine)
    for table in metadata.tables:
        for foreign_key in inspector.get_foreign_keys(table):
            if foreign_key["name"]:  # SQLite does not keep foreign-key names
                assert foreign_key["name"].startswith(f"fk_{table}_")
        for check in inspector.get_check_constraints(table):
            assert check["name"].startswith(f"ck_{table}_"), check
        for unique in inspector.get_unique_constraints(table):
            assert unique["name"].startswith(f"uq_{table}_"), unique


def test_the_suite_runs_on_the_configured_database(db: Database):
    from sqlalchemy.engine import make_url

    from tests.conftest import TEST_DATABASE_URL

    expected = make_url(TEST_DATABASE_URL).get_backend_name() if TEST_DATABASE_URL else "sqlite"
    assert db.dialect == expected


@contextmanager
def _downgraded(database_url: str, revision: str) -> Iterator[None]:
    """The database at ``revision`` inside the block, at head again after it."""
    migrate.downgrade(database_url, revision)
    try:
        yield
    finally:
        migrate.upgrade(database_url)


def _columns(db: Database, table: str) -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns(table)}


def test_existing_payout_runs_get_the_trailing_window_of_their_rules(database_url, db: Database):
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=1_000_000, trailing_days=7)
    day = payout_runs.Period(PeriodKind.DAY, YESTERDAY, YESTERDAY)
    run_id = payout_runs.compute(db, day, FINANCE, utcnow()).id
    with _downgraded(database_url, "0010"):
        assert "trailing_start" not in _columns(db, "payout_runs")
    with db.read() as session:
        assert session.get(PayoutRun, run_id).trailing_start == YESTERDAY - timedelta(days=6)


def test_a_database_holding_data_migrates_down_and_up(database_url, db: Database, acme):
    """SQLite alters a table by copying it and dropping the old one: with campaigns pointing
    at their advertiser, that drop broke a foreign key (0007 and 0010 rebuild advertisers),
    so an embedded install with data could neither upgrade nor downgrade."""
    from tests.factories import make_ad_group, make_campaign

    campaign = make_campaign(acme[1])
    group = make_ad_group(acme[1], campaign["id"])
    with _downgraded(database_url, "0006"):
        assert "industry" not in _columns(db, "advertisers")
    db.dispose()  # pooled SQLite connections may hold the schema from before
    assert acme[1].get(f"/v1/ad-groups/{group['id']}").json["campaign_id"] == campaign["id"]
    assert acme[1].get(f"/v1/advertisers/{acme[0]['id']}").json["name"] == acme[0]["name"]


def _upgrade(url: str) -> str:
    try:
        migrate.upgrade(url)
    except Exception as error:  # noqa: BLE001 - the answer is what went wrong, if anything
        return f"{type(error).__name__}: {error}"
    return "ok"


def test_processes_starting_at_once_on_an_empty_database_migrate_it_once(database_url):
    """serve, scheduler and demo each migrate at start; on PostgreSQL two of them racing
    on an empty database both created the tables, and one died on a duplicate type."""
    import multiprocessing

    import pytest
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL: set ADSMANAGER_TEST_DATABASE_URL (SQLite has one writer)")
    scratch = make_url(database_url).set(database="adsmanager_migration_race")
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}"'))
            connection.execute(text(f'CREATE DATABASE "{scratch.database}"'))
        url = scratch.render_as_string(hide_password=False)
        with multiprocessing.get_context("spawn").Pool(3) as pool:
            assert pool.map(_upgrade, [url] * 3) == ["ok"] * 3
        engine = create_engine(url)
        try:
            assert migrate.is_at_head(engine)
        finally:
            engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}"'))
        admin.dispose()

"""Fixtures shared by the whole suite.

The database is the one named by ``ADSMANAGER_TEST_DATABASE_URL`` (PostgreSQL in CI), or a
fresh SQLite file. It is built once with ``alembic upgrade head`` and emptied after each test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

from adsmanager import create_app
from adsmanager.db import Database, metadata, migrate
from adsmanager.services import api_keys
from adsmanager.serving.runtime import Serving
from adsmanager.vocabulary import Role
from tests.factories import ApiClient, create_advertiser, make_ad, make_ad_group, make_campaign
from tests.stripe_server import StripeServer

REPO_ROOT = Path(__file__).resolve().parent.parent

# In CI the property-based tests replay the same examples every run, so a red build is
# always reproducible; locally they explore new ones each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")
TEST_DATABASE_URL = os.environ.get("ADSMANAGER_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("ADSMANAGER_TEST_REDIS_URL")


def pytest_report_header(config) -> list[str]:
    if TEST_DATABASE_URL:
        backend = make_url(TEST_DATABASE_URL).get_backend_name()
        lines = [f"database: {backend} (ADSMANAGER_TEST_DATABASE_URL)"]
    else:
        lines = ["database: sqlite (set ADSMANAGER_TEST_DATABASE_URL to run on PostgreSQL)"]
    lines.append(
        f"redis: {TEST_REDIS_URL}"
        if TEST_REDIS_URL
        else "redis: none (set ADSMANAGER_TEST_REDIS_URL for the Redis tests)"
    )
    return lines


def _reset_postgres(url: str) -> None:
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if TEST_DATABASE_URL:
        if make_url(TEST_DATABASE_URL).get_backend_name() == "postgresql":
            _reset_postgres(TEST_DATABASE_URL)
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    migrate.upgrade(url)
    return url


WEBHOOK_SECRET = "whsec_adsmanager_tests"


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[StripeServer]:
    """localstripe on a free port for the session: the app's Stripe."""
    server = StripeServer()
    yield server
    server.stop()


def stripe_settings(server: StripeServer) -> dict[str, str]:
    return {
        "stripe_api_key": server.api_key,
        "stripe_api_base": server.url,
        "stripe_publishable_key": server.publishable_key,
        "stripe_webhook_secret": WEBHOOK_SECRET,
    }


@pytest.fixture(scope="session")
def app(database_url, stripe_server, tmp_path_factory):
    os.environ.setdefault("ADSMANAGER_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    return create_app(
        {
            "database_url": database_url,
            "secret_key": "test-secret",
            **stripe_settings(stripe_server),
        }
    )


@pytest.fixture(scope="session")
def db(app) -> Database:
    return app.extensions["adsmanager.db"]


@pytest.fixture(autouse=True)
def _empty_tables(request, monkeypatch) -> Iterator[None]:
    """Tests that touch the database leave it empty for the next one."""
    uses_database = "database_url" in request.fixturenames
    database = request.getfixturevalue("db") if uses_database else None
    # Every auction runtime the test starts, the app's or its own (a second worker, a
    # restart): served ads still queued for their log writers would land in the next
    # test's tables.
    runtimes: list[Serving] = []
    start = Serving.__init__

    def started(runtime: Serving, *args, **kwargs) -> None:
        start(runtime, *args, **kwargs)
        runtimes.append(runtime)

    monkeypatch.setattr(Serving, "__init__", started)
    yield
    if database is not None:
        installed = request.getfixturevalue("app").extensions.get("adsmanager.serving")
        for runtime in {*runtimes, installed} - {None}:
            runtime.logs.flush()
        empty_all_tables(database)


APPEND_ONLY = ("journal_entries", "ledger_postings")


def empty_all_tables(database: Database) -> None:
    """DELETE everything. The ledger's tables refuse DELETE (triggers), so PostgreSQL
    truncates them (row triggers do not fire) and SQLite lifts its triggers for the
    transaction that empties them."""
    with database.transaction() as session:
        postgres = database.dialect == "postgresql"
        triggers = []
        if not postgres:
            triggers = session.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            for name, _ in triggers:
                session.execute(text(f'DROP TRIGGER "{name}"'))
        if postgres:
            session.execute(text(f"TRUNCATE {', '.join(APPEND_ONLY)} CASCADE"))
        for table in reversed(metadata.sorted_tables):
            if postgres and table.name in APPEND_ONLY:
                continue
            session.execute(table.delete())
        for _, sql in triggers:
            session.execute(text(sql))


@pytest.fixture
def serving(app, db):
    """A fresh auction runtime for each test (empty counters, a snapshot rebuilt on demand
    with ``serving.snapshots.refresh()``), installed in the app the API uses."""
    from dataclasses import replace

    from adsmanager.serving.runtime import Serving

    settings = replace(
        app.extensions["adsmanager.settings"],
        snapshot_refresh_seconds=0,
        history_refresh_seconds=0,
        balance_refresh_seconds=0,
        spend_refresh_seconds=0,
    )
    runtime = Serving(settings, db)
    app.extensions["adsmanager.serving"] = runtime
    yield runtime
    runtime.logs.flush()
    app.extensions.pop("adsmanager.serving", None)


@pytest.fixture
def redis_url():
    if not TEST_REDIS_URL:
        pytest.skip(
            "needs Redis: set ADSMANAGER_TEST_REDIS_URL (CI uses redis://127.0.0.1:6379/15)"
        )
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()


@pytest.fixture
def client(app):
    return app.test_client()


def _key(db: Database, role: Role) -> str:
    from adsmanager.services.access import Actor

    bootstrap = Actor(id="tests", role=Role.ADMIN)
    return api_keys.create(
        db, bootstrap, role=role, advertiser_id=None, name=f"{role} (tests)"
    ).secret


@pytest.fixture
def admin(client, db) -> ApiClient:
    return ApiClient(client, _key(db, Role.ADMIN))


@pytest.fixture
def finance(client, db) -> ApiClient:
    return ApiClient(client, _key(db, Role.FINANCE))


@pytest.fixture
def feed(client, db) -> ApiClient:
    return ApiClient(client, _key(db, Role.FEED))


@pytest.fixture
def acme(admin) -> tuple[dict, ApiClient]:
    """An advertiser and a client holding its first key."""
    return create_advertiser(admin, "Acme")


@pytest.fixture
def globex(admin) -> tuple[dict, ApiClient]:
    """A second advertiser, to check that tenants never see each other."""
    return create_advertiser(admin, "Globex", currency="EUR", timezone="Europe/Berlin")


@pytest.fixture
def tree(acme) -> dict:
    """Acme with one campaign, ad group and ad."""
    advertiser, api = acme
    campaign = make_campaign(api)
    ad_group = make_ad_group(api, campaign["id"])
    ad = make_ad(api, ad_group["id"])
    return {
        "advertiser": advertiser,
        "api": api,
        "campaign": campaign,
        "ad_group": ad_group,
        "ad": ad,
    }

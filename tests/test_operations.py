"""Probes and request ids."""

import logging
import os

from sqlalchemy import text

from adsmanager import create_app
from adsmanager.db import migrate


def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_ready_at_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready"
    assert response.json["revision"] == sorted(migrate.head_revisions())


def test_readyz_is_not_ready_when_migrations_are_pending(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    app = create_app({"database_url": url, "secret_key": "x"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["code"] == "migrations_pending"
    migrate.upgrade(url)
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_is_not_ready_when_the_database_is_unreachable():
    # Port 9 (discard) on loopback: nothing listens there.
    app = create_app(
        {
            "database_url": "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2",
            "secret_key": "x",
        }
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["code"] == "unavailable"


def test_every_response_has_a_request_id(client):
    first = client.get("/healthz")
    second = client.get("/v1/campaigns")  # an error response too
    ids = {first.headers["X-Request-Id"], second.headers["X-Request-Id"]}
    assert len(ids) == 2 and all(len(value) >= 16 for value in ids)
    assert second.json["request_id"] == second.headers["X-Request-Id"]


def test_an_upstream_request_id_is_kept_and_logged(client, caplog):
    with caplog.at_level(logging.INFO, logger="adsmanager.access"):
        response = client.get("/healthz", headers={"X-Request-Id": "feed-req-12345678"})
    assert response.headers["X-Request-Id"] == "feed-req-12345678"
    records = [r for r in caplog.records if r.name == "adsmanager.access"]
    assert records and records[-1].request_id == "feed-req-12345678"


def test_an_unsafe_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-Id": "bad id; <script>"})
    assert response.headers["X-Request-Id"] != "bad id; <script>"


def test_a_request_id_ending_in_a_newline_is_replaced(client, caplog):
    # Werkzeug's test client refuses such a header, so it goes straight into the environ.
    incoming = "feed-req-12345678\n"
    with caplog.at_level(logging.INFO, logger="adsmanager.access"):
        response = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": incoming})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] not in (incoming, incoming.strip())
    records = [r for r in caplog.records if r.name == "adsmanager.access"]
    assert records and "\n" not in records[-1].request_id


def test_database_errors_are_503_in_the_error_shape(app, db, admin):
    # Break the schema under the app, then put it back: the error must be a clean 503.
    with db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE campaigns RENAME TO campaigns_away"))
    try:
        response = admin.get("/v1/campaigns")
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE campaigns_away RENAME TO campaigns"))
    assert response.status_code in (500, 503)
    assert set(response.json) == {"code", "message", "fields", "request_id"}


def test_processes_starting_together_share_one_generated_secret_key(tmp_path):
    """The first start writes the key; several at once must not crash or disagree."""
    import subprocess
    import sys

    code = "from adsmanager.config import Settings; print(Settings.from_env().secret_key)"
    env = {**os.environ, "ADSMANAGER_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("ADSMANAGER_SECRET_KEY", None)
    processes = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
        for _ in range(6)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert len(keys) == 1 and len(keys.pop()) >= 48
    assert [path.name for path in (tmp_path / "instance").iterdir()] == ["secret_key"]

"""The ``adsmanager`` command: migrations, keys, and serving a fresh install."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet
import pytest
from click.testing import CliRunner

from adsmanager.cli import main
from adsmanager.db import migrate
from adsmanager.services.training import CLICK_WINDOW


@pytest.fixture
def run(database_url, monkeypatch):
    monkeypatch.setenv("ADSMANAGER_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_db_current_reports_head(run):
    result = run("db", "current")
    assert result.exit_code == 0
    assert "(at head)" in result.output
    assert all(revision in result.output for revision in migrate.head_revisions())


def test_db_upgrade_and_downgrade_a_fresh_database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    monkeypatch.setenv("ADSMANAGER_DATABASE_URL", url)
    runner = CliRunner()
    assert "empty" in runner.invoke(main, ["db", "current"]).output
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert "(at head)" in runner.invoke(main, ["db", "current"]).output
    assert runner.invoke(main, ["db", "downgrade", "base"]).exit_code == 0
    assert "empty" in runner.invoke(main, ["db", "current"]).output


def test_db_downgrade_takes_a_relative_revision(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'steps.sqlite3'}"
    monkeypatch.setenv("ADSMANAGER_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    stepped = runner.invoke(main, ["db", "downgrade", "-1"])
    assert stepped.exit_code == 0, stepped.output
    assert "head is" in runner.invoke(main, ["db", "current"]).output
    unknown = runner.invoke(main, ["db", "upgrade", "nosuchrev"])
    assert unknown.exit_code == 1
    assert "Error: Can't locate revision identified by 'nosuchrev'" in unknown.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ADSMANAGER_SNAPSHOT_REFRESH_SECONDS", "0", "must be a positive number of seconds"),
        ("ADSMANAGER_BALANCE_REFRESH_SECONDS", "-1", "must be a positive number of seconds"),
        ("ADSMANAGER_TRUSTED_PROXIES", "-1", "must be at least 0"),
        ("ADSMANAGER_MAX_CONTENT_LENGTH", "1MB", "not a whole number"),
        ("ADSMANAGER_LOG_LEVEL", "LOUD", "use DEBUG, INFO, WARNING or ERROR"),
        ("ADSMANAGER_PAYOUT_COMPUTE_AT", "25:00", "must be HH:MM"),
        ("ADSMANAGER_AUTO_ACTIVATE_MODELS", "ture", "use true or false"),
        ("ADSMANAGER_EXPLORATION_SHARE", "1.5", "must be between 0 and 1"),
    ],
)
def test_a_setting_that_cannot_be_used_stops_the_command_with_its_name(
    tmp_path, monkeypatch, variable, value, message
):
    monkeypatch.setenv("ADSMANAGER_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(main, ["jobs", "list"])
    assert result.exit_code == 1
    assert f"Error: {variable}={value!r}: {message}" in result.output
    assert "Traceback" not in result.output


def test_a_file_the_command_cannot_write_is_a_message(run):
    result = run("openapi", "write", "/nonexistent/dir/openapi.yaml")
    assert result.exit_code == 1
    assert "Error: /nonexistent/dir/openapi.yaml: No such file or directory" in result.output


def test_keys_create_prints_a_working_key(run, client):
    result = run("keys", "create", "--role", "admin", "--name", "ops")
    assert result.exit_code == 0
    key = result.output.strip()
    assert re.fullmatch(r"am_[a-z0-9]{12}_\S+", key)
    response = client.get("/v1/advertisers", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    listed = run("keys", "list").output
    assert "ops" in listed and key not in listed and "active" in listed


def test_keys_create_explains_what_is_wrong(run):
    result = CliRunner().invoke(main, ["keys", "create", "--role", "advertiser"])
    assert result.exit_code != 0
    assert "advertiser_id" in result.output


def test_keys_revoke(run, client):
    key = run("keys", "create", "--role", "finance").output.strip()
    key_id = run("keys", "list").output.split("\t")[0]
    assert run("keys", "revoke", key_id).exit_code == 0
    response = client.get("/v1/advertisers", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    assert "revoked" in run("keys", "list").output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, key: str | None = None):
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=2) as response:
        return response.status, response.read()


def test_serve_migrates_prints_an_admin_key_and_serves(tmp_path):
    """What the README's first command does, on a fresh instance folder, under gunicorn."""
    port = _free_port()
    env = {**os.environ, "ADSMANAGER_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("ADSMANAGER_DATABASE_URL", None)
    command = [
        str(Path(sys.executable).with_name("adsmanager")),
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = ""
        key = None
        deadline = time.monotonic() + 30
        while key is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            output += line
            match = re.search(r"(am_[a-z0-9]{12}_\S+)", line)
            key = match.group(1) if match else None
        assert key, output
        while time.monotonic() < deadline:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/readyz")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200
        status, body = _get(f"http://127.0.0.1:{port}/v1/advertisers", key)
        assert status == 200 and b'"items"' in body
        assert (tmp_path / "instance" / "adsmanager.sqlite3").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


def test_simulate_a_market_traffic_and_train_a_model(run, tmp_path, db):
    from sqlalchemy import func, select

    from adsmanager.db.delivery import AdEvent, ServedAd
    from adsmanager.services import ctr_models

    result = run("simulate", "market", "--advertisers", "6", "--ad-groups-per-advertiser", "3")
    assert result.output.startswith("18 ad groups of 6 advertisers")
    # Enough pages for clicks in every part of the time split at any hour of the day (the
    # simulated viewers click more in their evening).
    result = run("simulate", "traffic", "--requests", "1000", "--users", "300")
    assert re.search(r"1000 pages, \d+ ads, \d+ impressions, \d+ clicks", result.output)
    with db.transaction() as session:
        served = session.scalar(select(func.count()).select_from(ServedAd))
        impressions = session.scalar(select(func.count()).where(AdEvent.event_type == "impression"))
    assert served == impressions > 0
    result = run("model", "train", "--trees", "100")
    [record] = ctr_models.list_models(db, page_size=10, page_token=None).items
    # Its held-out rows end 30 minutes ago: the newer impressions may still get clicks.
    tested_to = datetime.fromisoformat(record.metrics["test_window"]["to"])
    assert tested_to < datetime.now(UTC) - CLICK_WINDOW < tested_to + timedelta(minutes=10)
    assert record.num_trees == 100 and record.id in result.output
    # Each group's ratio with the clicks behind it.
    assert re.search(
        r"calibration by position: \d+: (\d\.\d{3}|n/a) \([\d,]+ clicks?\)", result.output
    )
    # Activated exactly when it beat the constant prior on the held-out rows.
    beat_prior = re.search(r"^better than the constant prior", result.output, re.MULTILINE)
    assert bool(beat_prior) != ("not better than" in result.output)
    assert (record.status == "active") == bool(beat_prior)
    assert record.id in run("model", "list").output
    diagram = tmp_path / "reliability.png"
    result = run("model", "report", record.id, "--diagram", str(diagram))
    assert diagram.read_bytes().startswith(b"\x89PNG")
    result = run("model", "activate", record.id)
    assert f"{record.id} ({record.version}) is active" in result.output
    result = run("model", "evaluate", record.id, "--since", "2000-01-01", "--until", "2100-01-01")
    assert result.exit_code == 0, result.output
    served = re.search(r"^(\d+) logged impressions from", result.output, re.M)
    assert int(served.group(1)) == impressions
    # By default a window ends 30 minutes ago: the newer impressions may still get clicks.
    result = run("model", "evaluate", record.id)
    closed = re.search(r"^(\d+) logged impressions from \S+ to (\S+)", result.output, re.M)
    assert 0 < int(closed.group(1)) < impressions
    assert datetime.fromisoformat(closed.group(2)) < datetime.now(UTC) - CLICK_WINDOW
    assert re.search(r"^  model +log loss [\d.]+ +NE", result.output, re.M)
    result = run("model", "evaluate", record.id, "--until", "2000-01-01")
    assert result.exit_code != 0 and "no logged impressions" in result.output
    assert ctr_models.active_version(db) == record.version


def test_train_without_activation_registers_a_candidate(run, db):
    from adsmanager.services import ctr_models

    run("simulate", "market", "--advertisers", "4", "--ad-groups-per-advertiser", "2")
    run("simulate", "traffic", "--requests", "1000", "--users", "200")
    result = run("model", "train", "--trees", "20", "--no-activate")
    assert result.exit_code == 0, result.output
    [record] = ctr_models.list_models(db, page_size=10, page_token=None).items
    assert record.status == "candidate"
    assert ctr_models.active_version(db) is None


def test_export_rows_and_train_from_the_file(run, db, tmp_path):
    from adsmanager.services import ctr_models

    run("simulate", "market", "--advertisers", "4", "--ad-groups-per-advertiser", "2")
    run("simulate", "traffic", "--requests", "1000", "--users", "200")
    path = tmp_path / "rows.parquet"
    result = run("model", "export", str(path))
    assert result.exit_code == 0 and re.search(r"^\d+ rows written to", result.output, re.M)
    newest = pyarrow.parquet.read_table(path).column("served_at").to_pylist()[-1]
    assert newest.replace(tzinfo=UTC) < datetime.now(UTC) - CLICK_WINDOW
    result = run("model", "train", "--trees", "20", "--no-activate", "--from-file", str(path))
    assert result.exit_code == 0, result.output
    [record] = ctr_models.list_models(db, page_size=10, page_token=None).items
    assert record.training_rows > 0
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b\n1,2\n")
    result = run("model", "train", "--from-file", str(broken))
    assert result.exit_code != 0 and "the columns must be served_at" in result.output


def test_billing_commands_credit_post_and_state(run, admin, db):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.factories import create_advertiser
    from tests.ledger_data import charge

    advertiser, _ = create_advertiser(admin, name="Cli Co", funds_micros=0)
    credited = run("billing", "credit", advertiser["id"], "20000000", "--reason", "launch offer")
    assert credited.exit_code == 0 and "credited 20000000 micros USD" in credited.output
    charge(db, advertiser["id"], 1_250_000)
    assert "posted 1 charges in 1 entries (1250000 micros)" in run("billing", "post-spend").output
    month = datetime.now(ZoneInfo("America/New_York")).strftime("%Y-%m")
    summary = run("billing", "statement", advertiser["id"], month)
    assert "credits" in summary.output and "18,750,000" in summary.output
    as_csv = run("billing", "statement", advertiser["id"], month, "--csv").output
    assert as_csv.splitlines()[-1].endswith("closing_balance,,,18750000,18.750000")
    checked = run("billing", "check")
    assert checked.exit_code == 0 and checked.output.strip().endswith("ok")
    refused = CliRunner().invoke(main, ["billing", "statement", advertiser["id"], "2026-13"])
    assert refused.exit_code == 1 and "YYYY-MM" in refused.output


def test_windows_take_iso_8601_with_or_without_an_offset():
    import click

    from adsmanager.cli import UTC_MOMENT

    assert UTC_MOMENT.convert("2026-11-29T08:00+01:00", None, None).isoformat() == (
        "2026-11-29T07:00:00+00:00"
    )
    assert UTC_MOMENT.convert("2026-11-29T08:00Z", None, None).hour == 8
    assert UTC_MOMENT.convert("2026-11-29 08:00", None, None).isoformat() == (
        "2026-11-29T08:00:00+00:00"  # no offset: UTC
    )
    with pytest.raises(click.BadParameter, match="not an ISO 8601 time"):
        UTC_MOMENT.convert("tomorrow", None, None)


def test_job_runs_print_the_first_line_of_each_summary(run):
    assert run("jobs", "run", "forget_sign_in_attempts").exit_code == 0
    listed = run("jobs", "runs", "--limit", "1").output
    assert "forget_sign_in_attempts" in listed and "succeeded" in listed
    assert "['" not in listed  # not a Python list
    assert CliRunner().invoke(main, ["jobs", "runs", "--limit", "-1"]).exit_code == 2

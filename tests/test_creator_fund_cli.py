"""``adsmanager creators import`` and ``adsmanager engagement import``: CSV files in, counts
and the bad lines out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from adsmanager.cli import main
from adsmanager.db.creator_fund import Creator, VideoEngagement
from tests.factories import count_rows
from tests.fund_data import add_creator

CREATOR_HEADER = "id,country,verified_age,followers,standing,joined_on,stripe_account_id"
ENGAGEMENT_HEADER = (
    "creator_id,video_id,day,views,qualified_views,invalid_views,invalid_traffic,"
    "watch_time_seconds,likes,comments,shares"
)
DAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
LATER = (datetime.now(UTC).date() + timedelta(days=5)).isoformat()


@pytest.fixture
def run(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ADSMANAGER_DATABASE_URL", database_url)

    def invoke(command: str, content: str, *options: str):
        path = tmp_path / f"{command}.csv"
        path.write_text(content, encoding="utf-8")
        result = CliRunner().invoke(main, [command, "import", str(path), *options])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result

    return invoke


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def test_creators_import(run, db):
    content = lines(
        CREATOR_HEADER,
        "alice,US,30,50000,GOOD,2026-01-15,acct_1Alice",
        "bob,GB,,120,WARNED,,",
        "carol,XX,30,10,GOOD,,",  # line 4: unknown country
        "dave,US,thirty,10,GOOD,,",  # line 5: not a number
        "erin,US,30,10,GOOD,2026-13-01,",  # line 6: not a date
        "alice,US,31,50000,GOOD,2026-01-15,",  # line 7: alice again
        "frank,US,,10,,,",  # line 8: no standing
    )
    result = run("creators", content)
    assert result.exit_code == 1
    assert "7 rows: 2 created, 0 updated, 0 unchanged, 5 invalid" in result.output
    reported = [line for line in result.output.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in reported] == [f"line {n}" for n in (4, 5, 6, 7, 8)]
    assert "country" in reported[0] and "verified_age" in reported[1]
    assert "duplicate_id" in reported[3] and "standing" in reported[4]
    with db.read() as session:
        stored = {c.id: c for c in session.scalars(select(Creator))}
    assert set(stored) == {"alice", "bob"}
    assert stored["alice"].stripe_account_id == "acct_1Alice"
    assert (stored["bob"].verified_age, stored["bob"].joined_on) == (None, None)

    again = run("creators", lines(CREATOR_HEADER, "alice,US,30,50000,GOOD,2026-01-15,acct_1Alice"))
    assert again.exit_code == 0
    assert "1 rows: 0 created, 0 updated, 1 unchanged, 0 invalid" in again.output


def test_creators_import_optional_stripe_column_and_bad_header(run, db):
    ok = run("creators", lines(CREATOR_HEADER.removesuffix(",stripe_account_id"), "a,US,,1,GOOD,"))
    assert ok.exit_code == 0, ok.output
    bad = run("creators", lines("id,country,age", "a,US,30"))
    assert bad.exit_code != 0
    assert "missing" in bad.output and "unknown age" in bad.output
    assert count_rows(db, "creators") == 1


def engagement_row(video_id: str, creator_id: str = "alice", day: str = DAY, **cells) -> str:
    values = {
        "views": 100,
        "qualified_views": 80,
        "invalid_views": 0,
        "invalid_traffic": "false",
        "watch_time_seconds": 900,
        "likes": 3,
        "comments": 1,
        "shares": 0,
    } | cells
    return ",".join([creator_id, video_id, day, *(str(value) for value in values.values())])


def test_engagement_import_in_batches(run, db):
    add_creator(db, "alice")
    content = lines(
        ENGAGEMENT_HEADER,
        engagement_row("v1"),
        engagement_row("v2", invalid_views=10),
        engagement_row("v3", invalid_traffic="true"),
        engagement_row("v4", creator_id="nobody"),  # line 5
        engagement_row("v5", views="many"),  # line 6
        engagement_row("v6", qualified_views=101),  # line 7
        engagement_row("v7", day=LATER),  # line 8
        engagement_row("v8", invalid_views="", invalid_traffic=""),  # defaults
        engagement_row("v1", likes=4),  # a later batch: replaces line 2
    )
    result = run("engagement", content, "--batch-size", "3")
    assert result.exit_code == 1
    assert "9 rows: 4 created, 1 updated, 0 unchanged, 4 invalid" in result.output
    reported = [line for line in result.output.splitlines() if line.startswith("line ")]
    assert reported == [
        "line 5: unknown_creator: No creator nobody is registered.",
        "line 6: malformed: views: 'many' is not a whole number",
        reported[2],
        reported[3],
    ]
    assert reported[2].startswith("line 7: invalid_counts")
    assert reported[3].startswith("line 8: day_in_future")
    with db.read() as session:
        stored = {r.video_id: r for r in session.scalars(select(VideoEngagement))}
    assert set(stored) == {"v1", "v2", "v3", "v8"}
    assert stored["v1"].likes == 4
    assert (stored["v2"].counted_views, stored["v3"].counted_views) == (70, 0)
    assert (stored["v8"].invalid_views, stored["v8"].invalid_traffic) == (0, False)

    clean = lines(ENGAGEMENT_HEADER, engagement_row("v1", likes=4), engagement_row("v2"))
    again = run("engagement", clean)
    assert again.exit_code == 0
    assert "2 rows: 0 created, 1 updated, 1 unchanged, 0 invalid" in again.output


def test_engagement_import_reports_only_the_first_invalid_lines(run, db):
    content = lines(ENGAGEMENT_HEADER, *(engagement_row(f"v{i}", "nobody") for i in range(50)))
    result = run("engagement", content, "--batch-size", "7")
    assert result.exit_code == 1
    assert "50 invalid" in result.output
    reported = [line for line in result.output.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in reported] == [f"line {n}" for n in range(2, 22)]
    assert "... and 30 more invalid lines" in result.output


def test_engagement_import_needs_the_right_header(run, db):
    result = run("engagement", lines("creator_id,video_id,day", "alice,v1," + DAY))
    assert result.exit_code != 0
    assert "missing views" in result.output.replace(",", "")
    assert count_rows(db, "video_engagement") == 0
    assert run("engagement", "", "--batch-size", "10").exit_code != 0
    assert run("engagement", lines(ENGAGEMENT_HEADER), "--batch-size", "0").exit_code == 2

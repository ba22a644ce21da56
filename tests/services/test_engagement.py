"""The engagement and creator upserts without HTTP: statuses, what is stored, updated_at,
and batches that race each other."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from adsmanager.db.creator_fund import Creator, VideoEngagement
from adsmanager.services import bulk_upsert, creators, engagement
from tests.conftest import TEST_DATABASE_URL
from tests.factories import count_rows
from tests.fund_data import add_creator

needs_postgres = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="needs PostgreSQL: set ADSMANAGER_TEST_DATABASE_URL",
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
DAY = date(2026, 2, 28)


def item(video_id: str = "v1", creator_id: str = "alice", **changes) -> dict:
    return {
        "creator_id": creator_id,
        "video_id": video_id,
        "day": DAY,
        "views": 100,
        "qualified_views": 80,
        "invalid_views": 10,
        "invalid_traffic": False,
        "watch_time_seconds": 800,
        "likes": 4,
        "comments": 1,
        "shares": 0,
    } | changes


def statuses(results) -> list[str]:
    return [r.status if r.reason is None else r.reason for r in results]


def row(db, video_id: str = "v1", day: date = DAY) -> VideoEngagement:
    with db.read() as session:
        return session.scalar(
            select(VideoEngagement).where(
                VideoEngagement.video_id == video_id, VideoEngagement.day == day
            )
        )


@pytest.fixture
def alice(db):
    add_creator(db, "alice")
    add_creator(db, "bob")


def test_upsert_statuses_and_updated_at(db, alice):
    assert statuses(engagement.ingest(db, [item()], T0)) == ["created"]
    assert row(db).updated_at == T0
    assert row(db).counted_views == 70

    assert statuses(engagement.ingest(db, [item()], T1)) == ["unchanged"]
    assert row(db).updated_at == T0  # an unchanged report does not touch the row

    assert statuses(engagement.ingest(db, [item(invalid_views=30)], T2)) == ["updated"]
    stored = row(db)
    assert (stored.invalid_views, stored.counted_views, stored.updated_at) == (30, 50, T2)


@pytest.mark.parametrize(
    ("changes", "counted"),
    [
        ({}, 70),
        ({"invalid_views": 0}, 80),
        ({"invalid_views": 80}, 0),
        ({"invalid_traffic": True}, 0),
        ({"views": 0, "qualified_views": 0, "invalid_views": 0}, 0),
    ],
)
def test_counted_views(db, alice, changes, counted):
    engagement.ingest(db, [item(**changes)], T0)
    assert row(db).counted_views == counted


def test_a_day_flagged_later_counts_nothing_and_is_an_update(db, alice):
    engagement.ingest(db, [item()], T0)
    assert statuses(engagement.ingest(db, [item(invalid_traffic=True)], T1)) == ["updated"]
    assert (row(db).counted_views, row(db).updated_at) == (0, T1)


def test_rules_of_an_item(db, alice):
    today = T0.date()
    results = engagement.ingest(
        db,
        [
            item("a", day=today + timedelta(days=1)),
            item("b", day=today + timedelta(days=2)),
            item("c", views=79),
            item("d", invalid_views=81),
            item("e", likes=-1),
            item("f", likes=10**16),
            item("g", creator_id="nobody"),
            item("no spaces"),
            item("a", day=today + timedelta(days=1)),
            item("i", likes=True),
        ],
        T0,
    )
    assert statuses(results) == [
        "created",
        "day_in_future",
        "invalid_counts",
        "invalid_counts",
        "invalid_counts",
        "invalid_counts",
        "unknown_creator",
        "invalid_id",
        "duplicate_in_batch",
        "invalid_counts",
    ]
    assert count_rows(db, "video_engagement") == 1


def test_a_video_belongs_to_its_creator(db, alice):
    engagement.ingest(db, [item("v1", "alice")], T0)
    results = engagement.ingest(db, [item("v1", "bob", likes=9)], T1)
    assert statuses(results) == ["video_belongs_to_another_creator"]
    assert (row(db).creator_id, row(db).likes, row(db).updated_at) == ("alice", 4, T0)


def test_a_video_belongs_to_its_creator_whatever_the_day(db, alice):
    before, after = DAY - timedelta(days=1), DAY + timedelta(days=1)
    engagement.ingest(db, [item("v1", "alice")], T0)

    results = engagement.ingest(
        db,
        [
            item("v1", "bob", day=after),
            item("v1", "bob", day=before - timedelta(days=1)),
            item("v1", "alice", day=before),
            item("v2", "bob"),  # new: the batch's first report of it names its creator
            item("v2", "alice", day=after),
        ],
        T1,
    )

    assert statuses(results) == [
        "video_belongs_to_another_creator",
        "video_belongs_to_another_creator",
        "created",
        "created",
        "video_belongs_to_another_creator",
    ]
    assert "belongs to another creator" in results[0].message
    with db.read() as session:
        owners = session.execute(
            select(VideoEngagement.video_id, VideoEngagement.creator_id).distinct()
        ).all()
    assert sorted(owners) == [("v1", "alice"), ("v2", "bob")]


def test_a_row_inserted_between_our_read_and_our_write_is_compared_not_duplicated(
    db, alice, monkeypatch
):
    """What a concurrent batch does on PostgreSQL, made to happen on any database: the
    first look finds nothing, but the rows are there when the INSERT runs."""
    engagement.ingest(db, [item("v1"), item("v2")], T0)
    real_load = bulk_upsert._load
    calls = []

    def blind_first_look(session, spec, keys):
        calls.append(keys)
        return {} if len(calls) == 1 else real_load(session, spec, keys)

    monkeypatch.setattr(bulk_upsert, "_load", blind_first_look)
    results = engagement.ingest(
        db, [item("v1"), item("v2", likes=5), item("v3"), item("v4", "bob")], T1
    )
    assert statuses(results) == ["unchanged", "updated", "created", "created"]
    assert len(calls) == 2
    assert count_rows(db, "video_engagement") == 4
    assert row(db, "v1").updated_at == T0
    assert (row(db, "v2").likes, row(db, "v2").updated_at) == (5, T1)


def test_a_large_batch_in_one_go(db, alice):
    batch = [item(f"v{i}", day=DAY - timedelta(days=i % 7)) for i in range(3000)]
    assert engagement.tally(engagement.ingest(db, batch, T0))["created"] == 3000
    batch[1234] = {**batch[1234], "shares": 3}
    assert engagement.tally(engagement.ingest(db, batch, T1)) == {
        "created": 0,
        "updated": 1,
        "unchanged": 2999,
        "invalid": 0,
    }


def _race(db, batches: list[list[dict]]) -> list[list[str]]:
    barrier = threading.Barrier(len(batches))
    outcomes: list[list[str] | BaseException] = [None] * len(batches)  # type: ignore[list-item]

    def send(position: int) -> None:
        barrier.wait()
        try:
            outcomes[position] = statuses(engagement.ingest(db, batches[position], T0))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            outcomes[position] = error

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert not errors, errors
    return outcomes  # type: ignore[return-value]


@needs_postgres
def test_two_batches_of_the_same_new_rows_at_once(db, alice):
    batch = [item(f"v{i}") for i in range(500)]
    first, second = sorted(_race(db, [batch, list(batch)]))
    assert first == ["created"] * 500
    assert second == ["unchanged"] * 500
    assert count_rows(db, "video_engagement") == 500


@needs_postgres
def test_overlapping_batches_in_different_orders_neither_fail_nor_duplicate(db, alice):
    keys = [f"v{i}" for i in range(300)]
    batches = []
    for seed in range(4):
        chosen = random.Random(seed).sample(keys, 200)
        batches.append([item(video_id, likes=seed) for video_id in chosen])
    outcomes = _race(db, batches)
    created = sum(outcome.count("created") for outcome in outcomes)
    assert created == count_rows(db, "video_engagement")
    assert created == len({i["video_id"] for batch in batches for i in batch})


def test_upsert_creators_counts_and_reports_bad_rows(db):
    def creator(creator_id: str, **changes) -> dict:
        return {
            "id": creator_id,
            "country": "US",
            "verified_age": None,
            "followers": 10,
            "standing": "GOOD",
            "joined_on": None,
            "stripe_account_id": None,
        } | changes

    rows = [creator(f"c{i}") for i in range(12_000)]  # more than one chunk
    rows[5] = creator("c5", country="XX")
    rows.append(creator("c7", followers=11))
    result = creators.upsert_creators(db, rows, T0)
    assert (result.created, result.updated, result.unchanged) == (11_999, 0, 0)
    assert [(e.index, e.reason) for e in result.errors] == [
        (5, "invalid"),
        (12_000, "duplicate_id"),
    ]
    assert "country" in result.errors[0].fields

    rows = [creator("c1"), creator("c2", standing="WARNED"), creator("c5")]
    result = creators.upsert_creators(db, rows, T1)
    assert (result.created, result.updated, result.unchanged, result.invalid) == (1, 1, 1, 0)
    with db.read() as session:
        stored = {
            c.id: c
            for c in session.scalars(select(Creator).where(Creator.id.in_(["c1", "c2", "c5"])))
        }
    assert stored["c1"].updated_at == T0
    assert (stored["c2"].standing, stored["c2"].updated_at, stored["c2"].created_at) == (
        "WARNED",
        T1,
        T0,
    )
    assert stored["c5"].created_at == T1


@pytest.mark.parametrize("stored_first", [False, True], ids=["insert", "update"])
def test_a_string_too_long_for_its_column_is_never_cut_short(db, stored_first):
    """Inserted or updated, an over-long value is refused (PostgreSQL) or kept whole (SQLite,
    which has no length limits), never shortened to fit."""
    from sqlalchemy.exc import DBAPIError

    row = {
        "id": "c_long",
        "country": "US",
        "verified_age": None,
        "followers": 10,
        "standing": "GOOD",
        "joined_on": None,
        "stripe_account_id": "acct_short",
    }
    if stored_first:
        with db.transaction() as session:
            bulk_upsert.upsert(session, creators.SPEC, [row], T0)
    long_account = "acct_" + "x" * 300  # the column holds 255
    try:
        with db.transaction() as session:
            bulk_upsert.upsert(
                session, creators.SPEC, [{**row, "stripe_account_id": long_account}], T1
            )
    except DBAPIError:
        assert db.engine.dialect.name == "postgresql"
        return
    with db.read() as session:
        assert session.get(Creator, "c_long").stripe_account_id == long_account

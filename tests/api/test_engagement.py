"""POST /v1/engagement: daily engagement per video, upserted per (video_id, day), with a
result per item."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from adsmanager.db.creator_fund import VideoEngagement
from tests.factories import count_rows
from tests.fund_data import add_creator

TODAY = datetime.now(UTC).date()
DAY = (TODAY - timedelta(days=1)).isoformat()


def item(video_id: str = "v1", creator_id: str = "alice", **changes) -> dict:
    return {
        "creator_id": creator_id,
        "video_id": video_id,
        "day": DAY,
        "views": 1_000,
        "qualified_views": 600,
        "invalid_views": 0,
        "invalid_traffic": False,
        "watch_time_seconds": 9_000,
        "likes": 40,
        "comments": 5,
        "shares": 2,
    } | changes


def post(api, items: list[dict]):
    return api.post("/v1/engagement", json={"items": items})


def stored(db) -> dict[tuple[str, str], VideoEngagement]:
    with db.read() as session:
        rows = session.scalars(select(VideoEngagement)).all()
    return {(row.video_id, row.day.isoformat()): row for row in rows}


@pytest.fixture
def creators(db):
    add_creator(db, "alice")
    add_creator(db, "bob")


def test_a_batch_is_created_then_unchanged_then_updated_item_by_item(feed, creators, db):
    batch = [item("v1"), item("v2", "bob"), item("v3", invalid_traffic=True)]
    first = post(feed, batch)
    assert first.status_code == 200, first.json
    assert first.json == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "invalid": 0,
        "results": [
            {"index": i, "status": "created", "reason": None, "message": None} for i in range(3)
        ],
    }
    rows = stored(db)
    assert rows["v1", DAY].counted_views == 600
    assert rows["v3", DAY].counted_views == 0
    first_written = rows["v1", DAY].updated_at

    again = post(feed, batch)
    assert (again.json["created"], again.json["unchanged"]) == (0, 3)
    assert [r["status"] for r in again.json["results"]] == ["unchanged"] * 3
    assert stored(db)["v1", DAY].updated_at == first_written

    batch[1] = item("v2", "bob", likes=41)
    changed = post(feed, batch)
    assert [r["status"] for r in changed.json["results"]] == ["unchanged", "updated", "unchanged"]
    assert changed.json["updated"] == 1
    rows = stored(db)
    assert rows["v2", DAY].likes == 41
    assert rows["v2", DAY].updated_at > first_written
    assert rows["v1", DAY].updated_at == first_written
    assert count_rows(db, "video_engagement") == 3


def test_invalid_views_are_not_counted(feed, creators, db):
    response = post(feed, [item(qualified_views=600, invalid_views=100)])
    assert response.json["created"] == 1
    assert stored(db)["v1", DAY].counted_views == 500


def test_defaults_for_the_invalid_traffic_fields(feed, creators, db):
    minimal = item()
    del minimal["invalid_views"], minimal["invalid_traffic"]
    assert post(feed, [minimal]).json["created"] == 1
    row = stored(db)["v1", DAY]
    assert (row.invalid_views, row.invalid_traffic, row.counted_views) == (0, False, 600)


def test_business_problems_are_per_item_and_the_rest_is_written(feed, creators, db):
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    later = (TODAY + timedelta(days=2)).isoformat()
    response = post(
        feed,
        [
            item("v1"),
            item("v2", creator_id="nobody"),
            item("v1", likes=99),  # the same video-day again
            item("v3", qualified_views=1_001),  # more qualified views than views
            item("v4", invalid_views=601),  # more invalid than qualified
            item("v5", day=later),
            item("v6", day=tomorrow),
        ],
    )
    assert response.status_code == 200
    body = response.json
    statuses = [(r["status"], r["reason"]) for r in body["results"]]
    assert statuses == [
        ("created", None),
        ("invalid", "unknown_creator"),
        ("invalid", "duplicate_in_batch"),
        ("invalid", "invalid_counts"),
        ("invalid", "invalid_counts"),
        ("invalid", "day_in_future"),
        ("created", None),
    ]
    assert (body["created"], body["invalid"]) == (2, 5)
    assert all(r["message"] for r in body["results"] if r["status"] == "invalid")
    assert set(stored(db)) == {("v1", DAY), ("v6", tomorrow)}
    assert stored(db)["v1", DAY].likes == 40  # the first of the duplicates


def test_a_video_cannot_move_to_another_creator(feed, creators, db):
    post(feed, [item("v1", "alice")])
    response = post(feed, [item("v1", "bob"), item("v2", "bob")])
    assert [(r["status"], r["reason"]) for r in response.json["results"]] == [
        ("invalid", "video_belongs_to_another_creator"),
        ("created", None),
    ]
    assert stored(db)["v1", DAY].creator_id == "alice"


def test_a_video_cannot_move_to_another_creator_on_another_day(feed, creators, db):
    earlier = (TODAY - timedelta(days=2)).isoformat()
    post(feed, [item("v1", "alice")])
    response = post(
        feed, [item("v1", "bob", day=earlier), item("v2", "bob"), item("v2", "alice", day=earlier)]
    )
    assert [(r["status"], r["reason"]) for r in response.json["results"]] == [
        ("invalid", "video_belongs_to_another_creator"),
        ("created", None),
        ("invalid", "video_belongs_to_another_creator"),
    ]
    assert {key: row.creator_id for key, row in stored(db).items()} == {
        ("v1", DAY): "alice",
        ("v2", DAY): "bob",
    }


def test_roles(feed, admin, finance, acme, creators, db):
    batch = [item()]
    assert feed.as_key(None).post("/v1/engagement", json={"items": batch}).status_code == 401
    assert post(acme[1], batch).status_code == 403
    assert post(admin, batch).status_code == 403
    assert post(finance, batch).status_code == 403
    assert count_rows(db, "video_engagement") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": item()}, "items"),
        ({"items": []}, "items"),
        ({}, "items"),
        ({"items": [item(), {k: v for k, v in item().items() if k != "views"}]}, "items.1.views"),
        ({"items": [item(views="1000")]}, "items.0.views"),
        ({"items": [item(views=10.5)]}, "items.0.views"),
        ({"items": [item(likes=-1)]}, "items.0.likes"),
        ({"items": [item(shares=2**63)]}, "items.0.shares"),
        ({"items": [item(invalid_traffic="yes")]}, "items.0.invalid_traffic"),
        ({"items": [item(day="2026-02-30")]}, "items.0.day"),
        ({"items": [item(video_id="a b")]}, "items.0.video_id"),
        ({"items": [item(creator_id="")]}, "items.0.creator_id"),
        ({"items": [item(video_id="v" * 65)]}, "items.0.video_id"),
        ({"items": [item(video_id="v1\n")]}, "items.0.video_id"),
        ({"items": [item(creator_id="alice\n")]}, "items.0.creator_id"),
        ({"items": [item(color="red")]}, "items.0.color"),
        ({"items": [item()], "extra": 1}, "extra"),
    ],
)
def test_a_malformed_body_is_422_and_writes_nothing(feed, creators, db, body, field):
    response = feed.post("/v1/engagement", json=body)
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_failed"
    assert field in response.json["fields"], response.json
    assert count_rows(db, "video_engagement") == 0


def test_at_most_1000_items(feed, creators, db):
    batch = [item(f"v{i}") for i in range(1001)]
    too_many = post(feed, batch)
    assert too_many.status_code == 422
    assert "items" in too_many.json["fields"]
    assert count_rows(db, "video_engagement") == 0
    full = post(feed, batch[:1000])
    assert full.status_code == 200
    assert full.json["created"] == 1000
    assert count_rows(db, "video_engagement") == 1000


def test_the_same_batch_posted_twice_at_once(app, feed, creators, db):
    """On PostgreSQL the two requests really overlap; SQLite runs them one after the other.
    Either way: one creates, the other finds the rows, no error, one row per video-day."""
    batch = [item(f"v{i}") for i in range(200)]
    barrier = threading.Barrier(2)
    outcomes = []

    def send():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/v1/engagement",
            json={"items": batch},
            headers={"Authorization": f"Bearer {feed.key}"},
        )
        outcomes.append(
            (response.status_code, response.json["created"], response.json["unchanged"])
        )

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [(200, 0, 200), (200, 200, 0)]
    assert count_rows(db, "video_engagement") == 200

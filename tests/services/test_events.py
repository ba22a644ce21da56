"""Event ingestion without HTTP: results in the batch's order, and batches that report the
same ads in different orders at once."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from adsmanager.db.delivery import AdEvent, DeliveryHour
from adsmanager.services import events
from adsmanager.serving.counters import InProcessCounters
from auction.tokens import TokenSigner, TrackedEvent
from tests.conftest import TEST_DATABASE_URL

needs_postgres = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="needs PostgreSQL: set ADSMANAGER_TEST_DATABASE_URL",
)

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
SIGNER = TokenSigner("events-tests")


def event(impression_id: str, ad_id: str, event_type: str = "impression") -> TrackedEvent:
    return TrackedEvent(
        impression_id=impression_id,
        event_type=event_type,
        request_id="r",
        user_id="u",
        ad_id=ad_id,
        ad_group_id="adg_1",
        campaign_id="cmp_1",
        advertiser_id="adv_1",
        billing_event="CPM",
        charge_micros=100,
        position=1,
        expires_at=2**40,
    )


def token(impression_id: str, ad_id: str, event_type: str = "impression") -> str:
    return SIGNER.sign(event(impression_id, ad_id, event_type))


def ingest(db, tokens: list[str]) -> list[events.EventResult]:
    return events.ingest(db, InProcessCounters(), SIGNER, tokens, NOW)


def delivery(db) -> dict[str, int]:
    with db.read() as session:
        return dict(session.execute(select(DeliveryHour.ad_id, DeliveryHour.impressions)).all())


def test_results_follow_the_batch_order_not_the_insert_order(db):
    """The rows are written sorted by their keys; the results still answer item by item."""
    ingest(db, [token("imp_m", "ad_m")])
    batch = [
        token("imp_z", "ad_z"),
        token("imp_m", "ad_m"),  # from an earlier batch
        "garbage",
        token("imp_a", "ad_a"),
        token("imp_z", "ad_z"),  # twice in this batch
        token("imp_a", "ad_a", "click"),
    ]
    results = ingest(db, batch)
    assert [(r.status, r.impression_id, r.event_type) for r in results] == [
        ("accepted", "imp_z", "impression"),
        ("duplicate", "imp_m", "impression"),
        ("invalid", None, None),
        ("accepted", "imp_a", "impression"),
        ("duplicate", "imp_z", "impression"),
        ("accepted", "imp_a", "click"),
    ]
    assert [r.charged_micros for r in results] == [100, 0, 0, 100, 0, 100]
    assert delivery(db) == {"ad_a": 1, "ad_m": 1, "ad_z": 1}
    with db.read() as session:
        assert len(session.scalars(select(AdEvent.id)).all()) == 4


def _wait_for_waiters(db, count: int, table: str) -> None:
    """Until ``count`` backends are blocked on a lock in a statement on ``table``."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.engine.connect() as connection:
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND cardinality(pg_blocking_pids(pid)) > 0"
                    " AND query ILIKE :table"
                ),
                {"table": f"%{table}%"},
            )
        if waiting >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} ingests waiting on a lock after 10 s")


def _race(db, holder, batches: dict[str, list[str]], table: str) -> dict:
    """Each batch ingested in its own thread, started once the previous one waits for a
    lock on ``table``; ``holder``'s transaction commits when they all wait."""
    outcomes: dict[str, list[str] | BaseException] = {}

    def send(name: str, tokens: list[str]) -> None:
        try:
            outcomes[name] = [result.status for result in ingest(db, tokens)]
        except BaseException as error:  # noqa: BLE001 - reported by the caller's assertion
            outcomes[name] = error

    threads = [threading.Thread(target=send, args=item) for item in batches.items()]
    for waiting, thread in enumerate(threads, start=1):
        thread.start()
        _wait_for_waiters(db, waiting, table)
    holder.commit()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@needs_postgres
def test_batches_of_the_same_ads_in_opposite_orders_do_not_deadlock(db):
    """Two workers report ads a, m and b in opposite orders while a third transaction holds
    ad m's hourly row. Upserting in the batch's order, the first would lock a and wait for
    m, the second lock b and wait for m; once m is free, whichever gets it waits for the
    other's row: a deadlock, and one request fails. Upserting in (ad_id, hour) order, both
    take a before b before m, so the second simply waits for the first."""
    ingest(db, [token(f"imp_0_{ad}", ad) for ad in ("ad_a", "ad_b", "ad_m")])
    forward = [token(f"imp_1_{ad}", ad) for ad in ("ad_a", "ad_m", "ad_b")]
    backward = [token(f"imp_2_{ad}", ad) for ad in ("ad_b", "ad_m", "ad_a")]
    with db.engine.connect() as holder:
        holder.execute(text("SELECT 1 FROM delivery_hourly WHERE ad_id = 'ad_m' FOR UPDATE")).all()
        batches = {"forward": forward, "backward": backward}
        outcomes = _race(db, holder, batches, "delivery_hourly")
    assert outcomes == {"forward": ["accepted"] * 3, "backward": ["accepted"] * 3}
    assert delivery(db) == {"ad_a": 3, "ad_b": 3, "ad_m": 3}


@needs_postgres
def test_retried_events_in_opposite_orders_do_not_deadlock(db):
    """The same for the events' unique (impression_id, event_type): two retries of the same
    events a, m and b in opposite orders, while a third transaction is inserting m. In the
    batch's order each would insert one of a and b and wait for the other's; in key order
    the second waits for the first and finds all three there."""
    tokens = {name: token(f"imp_{name}", f"ad_{name}") for name in ("a", "b", "m")}
    with db.engine.connect() as holder:
        row = {**asdict(event("imp_m", "ad_m")), "occurred_at": NOW, "received_at": NOW}
        del row["expires_at"]  # the token's, not the event's
        holder.execute(AdEvent.__table__.insert().values(**row))
        batches = {
            "forward": [tokens["a"], tokens["m"], tokens["b"]],
            "backward": [tokens["b"], tokens["m"], tokens["a"]],
        }
        outcomes = _race(db, holder, batches, "ad_events")
    assert outcomes == {
        "forward": ["accepted", "duplicate", "accepted"],
        "backward": ["duplicate"] * 3,
    }
    assert delivery(db) == {"ad_a": 1, "ad_b": 1}

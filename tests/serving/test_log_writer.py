"""The auction's log writer: rows gather and go to the database in batches, with COPY on
PostgreSQL. Each test runs on the configured database (SQLite, or PostgreSQL in CI)."""

import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import select

from adsmanager.db.append import append_rows
from adsmanager.db.delivery import AdEvent, AuctionLog, ServedAd
from adsmanager.serving.log_writer import LogWriter
from tests.delivery_data import served_ad_row

SERVED_AT = datetime(2026, 11, 27, 12, 0, 0, 250_001, tzinfo=UTC)


class CountingDatabase:
    """The real database, counting the writer's transactions."""

    def __init__(self, db) -> None:
        self._db = db
        self.transactions = 0

    @contextmanager
    def transaction(self):
        with self._db.transaction() as session:
            self.transactions += 1
            yield session


def stored(db) -> list[ServedAd]:
    with db.read() as session:
        return list(session.scalars(select(ServedAd).order_by(ServedAd.impression_id)))


def test_rows_of_many_requests_share_one_transaction(db):
    counting = CountingDatabase(db)
    writer = LogWriter(counting, interval_seconds=0.5)
    for number in range(5):  # auctions a little apart, well within one interval
        writer.put(ServedAd, served_ad_row(number))
        time.sleep(0.02)
    deadline = time.monotonic() + 10
    while not counting.transactions and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.flush()
    # Not one transaction per row: a transaction costs the worker more than an auction.
    assert counting.transactions == 1
    assert [row.request_id for row in stored(db)] == [f"req_{n}" for n in range(5)]


class ArrivingDatabase(CountingDatabase):
    """Rows of more auctions arrive while the writer's first transaction is open."""

    writer: LogWriter

    @contextmanager
    def transaction(self):
        with super().transaction() as session:
            if self.transactions == 1:
                for number in range(10, 13):
                    self.writer.put(ServedAd, served_ad_row(number))
            yield session


def test_rows_that_arrive_during_a_write_wait_for_the_next_interval(db):
    """Only full batches follow each other at once: chasing each write's latecomers made
    batches of a dozen rows, whose transactions cost more than their rows."""
    arriving = ArrivingDatabase(db)
    writer = arriving.writer = LogWriter(arriving, interval_seconds=0.3)
    writer.put(ServedAd, served_ad_row(0))
    deadline = time.monotonic() + 10
    while not arriving.transactions and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # the next interval has not ended
    assert arriving.transactions == 1
    writer.flush()
    assert arriving.transactions == 2
    assert len(stored(db)) == 4


def test_flush_writes_in_batches_of_at_most_batch_size(db):
    counting = CountingDatabase(db)
    writer = LogWriter(counting, batch_size=20, interval_seconds=60)
    for number in range(45):
        writer.put(ServedAd, served_ad_row(number))
    writer.flush()
    assert counting.transactions == 3
    assert len(stored(db)) == 45


AWKWARD = "tab\there, new\nline, back\\slash, 'quote' \"double\", \\N, café ✓ 🎬"


def test_every_value_is_stored_as_given(db):
    """COPY's text format escapes tabs, newlines and backslashes, and a JSON column holds
    text there: what is read back must equal what was put, on either database."""
    kolkata = timezone(timedelta(hours=5, minutes=30))
    writer = LogWriter(db, interval_seconds=60)
    writer.put(
        ServedAd,
        served_ad_row(
            1,
            request_id=AWKWARD,
            user_id="\\.",  # COPY's end-of-data marker, as a value
            served_at=SERVED_AT.astimezone(kolkata),
            feature_spec=None,
            position=3,
            price_micros=120_000,
            pctr=0.0123,
            features=[1.0, 0.5, -1.0, 1e-9, 123456.789],
        ),
    )
    user = {"id": AWKWARD, "interests": ["a\tb", "ü"], "age": None, "nested": {"k": [1, 2.5]}}
    # numpy's float64 is a float, as the standard library's json takes it; keys that are
    # numbers become strings, as there.
    candidates = [{"ad_id": "ad_1", "features": [0.1, np.float64(-2.0)], "note": AWKWARD}]
    slots = {3: "third"}
    logged_auction = {
        "request_id": "r",
        "at": SERVED_AT,
        "model_version": "m",
        "user": user,
        "candidates": candidates,
        "slots": slots,
        "feature_spec": "spec",
    }
    writer.put(AuctionLog, logged_auction)
    writer.put(AuctionLog, {**logged_auction, "request_id": "no slots", "slots": None})
    writer.flush()

    (row,) = stored(db)
    assert row.request_id == AWKWARD
    assert row.user_id == "\\."
    assert row.served_at == SERVED_AT  # in UTC, to the microsecond
    assert row.features == [1.0, 0.5, -1.0, 1e-9, 123456.789]
    assert row.feature_spec is None
    assert (row.pctr, row.price_micros, row.position) == (0.0123, 120_000, 3)
    with db.read() as session:
        logged, without_slots = session.scalars(select(AuctionLog).order_by(AuctionLog.id))
        # None is JSON null, as SQLAlchemy's JSON type stores it, not SQL NULL.
        sql_nulls = session.scalars(select(AuctionLog.id).where(AuctionLog.slots.is_(None)))
        assert list(sql_nulls) == []
    assert without_slots.slots is None
    assert (logged.user, logged.candidates, logged.at) == (user, candidates, SERVED_AT)
    assert logged.slots == {"3": "third"}
    assert logged.id is not None


def test_rows_roll_back_with_their_transaction(db):
    with pytest.raises(RuntimeError), db.transaction() as session:
        append_rows(session, ServedAd.__table__, [served_ad_row(1), served_ad_row(2)])
        raise RuntimeError("the owner of the transaction gives up")
    assert stored(db) == []


def test_rows_must_share_their_keys(db):
    with pytest.raises(ValueError, match="same keys"), db.transaction() as session:
        append_rows(session, ServedAd.__table__, [served_ad_row(1), {"impression_id": "imp_2"}])
    assert stored(db) == []


def test_rows_may_list_their_keys_in_any_order(db):
    reordered = dict(reversed(served_ad_row(2, request_id="second", position=3).items()))
    with db.transaction() as session:
        append_rows(session, ServedAd.__table__, [served_ad_row(1, position=3), reordered])
    assert [(row.request_id, row.position) for row in stored(db)] == [("req_1", 3), ("second", 3)]


def test_a_column_with_a_python_default_must_be_given(db):
    """COPY would not apply ``received_at``'s default: refused on both databases alike."""
    event = {"impression_id": "imp_1", "event_type": "impression"}  # and no received_at
    with pytest.raises(ValueError, match="received_at"), db.transaction() as session:
        append_rows(session, AdEvent.__table__, [event])

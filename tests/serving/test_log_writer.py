"""The auction's log writer: rows gather and go to the database in batches."""

import time
from contextlib import contextmanager

from adsmanager.serving.log_writer import LogWriter


class RecordingDatabase:
    """Stands in for Database: records the rows of each transaction."""

    def __init__(self) -> None:
        self.transactions: list[list[dict]] = []

    @contextmanager
    def transaction(self):
        rows: list[dict] = []
        self.transactions.append(rows)
        yield _Session(rows)


class _Session:
    def __init__(self, rows: list[dict]) -> None:
        self._rows = rows

    def execute(self, statement, rows):
        self._rows.extend(rows)


class _Model:
    __table__ = type("Table", (), {"insert": staticmethod(lambda: "INSERT")})


def test_rows_of_many_requests_share_one_transaction():
    db = RecordingDatabase()
    writer = LogWriter(db, interval_seconds=0.5)
    for number in range(5):  # auctions a little apart, well within one interval
        writer.put(_Model, {"n": number})
        time.sleep(0.02)
    deadline = time.monotonic() + 10
    while not db.transactions and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.flush()
    # Not one transaction per row: a transaction costs the worker more than an auction.
    assert len(db.transactions) == 1
    assert [row["n"] for row in db.transactions[0]] == list(range(5))


def test_flush_writes_in_batches_of_at_most_batch_size():
    db = RecordingDatabase()
    writer = LogWriter(db, batch_size=20, interval_seconds=60)
    for number in range(45):
        writer.put(_Model, {"n": number})
    writer.flush()
    assert [len(rows) for rows in db.transactions] == [20, 20, 5]

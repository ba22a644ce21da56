"""Billing under load: how far advertisers overspend their balance, and how fast spend is
posted to the ledger.

1. Overspend. A fresh database with simulated advertisers that each have a small prepaid
   balance; the real server (gunicorn, 2 workers) runs auctions for feed-service threads
   that report every served ad's impression at once (and a click on some CPC ads), while
   this process posts spend to the ledger every few seconds, as the scheduled job does. When
   the load is over, every charge is posted and each advertiser's overspend is what its
   ledger balance went below zero. The auction stops an advertiser when its balance less
   its unposted spend reaches zero, as re-read by each worker every
   ``ADSMANAGER_BALANCE_REFRESH_SECONDS`` (1 s): what is spent in that window, plus ads
   already served but reported later, is the overspend.
2. Spend posting throughput: N charges spread over many advertisers and campaigns, posted
   by ``post_spend`` in its default batches.

    python benchmarks/billing_load.py                      # SQLite
    python benchmarks/billing_load.py --postgres --redis   # PostgreSQL + Redis
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from auction_load import (  # noqa: E402
    REDIS_BENCH_URL,
    free_port,
    fresh_postgres,
    log,
    request_bodies,
    start_server,
)


def seed(database_url: str, advertisers: int, funds_micros: int) -> str:
    from adsmanager.db import Database, migrate
    from adsmanager.services import api_keys, demo
    from adsmanager.services.access import Actor
    from adsmanager.vocabulary import Role
    from auction import simulator

    migrate.upgrade(database_url)
    db = Database(database_url)
    market = simulator.make_market(advertisers, 5, seed=11, now=datetime.now(UTC))
    demo.seed_market(db, market, funds_micros=funds_micros)
    key = api_keys.create(
        db, Actor("bench", Role.ADMIN), role=Role.FEED, advertiser_id=None, name="bench"
    ).secret
    db.dispose()
    return key


class FeedService(threading.Thread):
    """Auctions back to back; every served ad's impression reported at once."""

    def __init__(self, port: int, key: str, bodies: list[str], stop: threading.Event, seed: int):
        super().__init__(daemon=True)
        self.port, self.key, self.bodies, self.stop = port, key, bodies, stop
        self.rng = random.Random(seed)
        self.auctions = self.ads = self.events = 0

    def _post(self, connection, path: str, body: str) -> dict:
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {payload[:200]!r}")
        return json.loads(payload)

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            page = self._post(connection, "/v1/auction", self.rng.choice(self.bodies))
            self.auctions += 1
            tokens = []
            for item in page["items"]:
                if item["type"] != "ad":
                    continue
                self.ads += 1
                tokens.append(item["tracking"]["impression"])
                if item["billing_event"] == "CPC" and self.rng.random() < 0.05:
                    tokens.append(item["tracking"]["click"])
            if tokens:
                body = json.dumps({"events": [{"token": token} for token in tokens]})
                self.events += self._post(connection, "/v1/events", body)["accepted"]


def overspend(database_url: str, funds_micros: int) -> dict:
    from sqlalchemy import select

    from adsmanager.db import Database
    from adsmanager.db.ledger import LedgerAccount
    from adsmanager.services import spend_posting
    from billing.ledger import AccountKind

    db = Database(database_url)
    spend_posting.post_spend(db)
    with db.read() as session:
        balances = session.scalars(
            select(LedgerAccount.balance_micros).where(
                LedgerAccount.kind == AccountKind.ADVERTISER_BALANCE.value
            )
        ).all()
    db.dispose()
    over = sorted(max(0, -balance) for balance in balances)
    exhausted = sum(1 for balance in balances if balance <= 0)
    return {
        "advertisers": len(balances),
        "exhausted": exhausted,
        "worst_overspend_micros": over[-1],
        "median_overspend_micros": over[len(over) // 2],
        "worst_overspend_share_of_funds": over[-1] / funds_micros,
        "total_spend_micros": sum(funds_micros - balance for balance in balances),
    }


def load_test(args, database_url: str, env: dict) -> dict:
    key = seed(database_url, args.advertisers, args.funds_micros)
    port = free_port()
    server = start_server(port, env)
    stop = threading.Event()
    feeds = [
        FeedService(port, key, request_bodies(500), stop, seed) for seed in range(args.threads)
    ]
    from adsmanager.db import Database
    from adsmanager.services import spend_posting

    db = Database(database_url)
    posted = 0
    try:
        started = time.perf_counter()
        for feed in feeds:
            feed.start()
        while time.perf_counter() - started < args.seconds:
            time.sleep(args.post_every)
            posted += spend_posting.post_spend(db).charges
        stop.set()
        for feed in feeds:
            feed.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
        db.dispose()
    result = overspend(database_url, args.funds_micros)
    auctions = sum(feed.auctions for feed in feeds)
    return {
        **result,
        "seconds": round(elapsed, 1),
        "auctions_per_second": round(auctions / elapsed),
        "ads_served": sum(feed.ads for feed in feeds),
        "events_accepted": sum(feed.events for feed in feeds),
        "charges_posted_during_load": posted,
    }


def posting_throughput(database_url: str, charges: int) -> dict:
    """Charges inserted in bulk (as the events API would have), then posted."""
    from sqlalchemy import insert, select

    from adsmanager.db import Database
    from adsmanager.db.delivery import AdEvent
    from adsmanager.db.models import Advertiser
    from adsmanager.services import spend_posting

    db = Database(database_url)
    with db.read() as session:
        advertisers = list(session.scalars(select(Advertiser.id)))
    rng = random.Random(7)
    now = datetime.now(UTC)
    rows = []
    for number in range(charges):
        advertiser = rng.choice(advertisers)
        rows.append(
            {
                "impression_id": f"imp_post_{number}",
                "event_type": "impression",
                "request_id": "bench",
                "user_id": f"u{number % 1000}",
                "ad_id": "ad_bench",
                "ad_group_id": "adg_bench",
                "campaign_id": f"cmp_{advertiser}_{rng.randrange(3)}",
                "advertiser_id": advertiser,
                "billing_event": "CPM",
                "charge_micros": rng.randrange(50, 5_000),
                "position": 3,
                "occurred_at": now - timedelta(seconds=rng.randrange(3600)),
                "received_at": now,
            }
        )
    with db.transaction() as session:
        for start in range(0, len(rows), 5_000):
            session.execute(insert(AdEvent), rows[start : start + 5_000])
    started = time.perf_counter()
    result = spend_posting.post_spend(db)
    elapsed = time.perf_counter() - started
    db.dispose()
    assert result.charges == charges, result
    return {
        "charges": charges,
        "entries": result.entries,
        "seconds": round(elapsed, 2),
        "charges_per_second": round(charges / elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--redis", action="store_true")
    parser.add_argument("--advertisers", type=int, default=50)
    parser.add_argument("--funds-micros", type=int, default=2_000_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--post-every", type=float, default=5)
    parser.add_argument("--charges", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        instance = Path(directory) / "instance"
        instance.mkdir()
        database_url = (
            fresh_postgres() if args.postgres else f"sqlite:///{instance / 'bench.sqlite3'}"
        )
        os.environ["ADSMANAGER_INSTANCE_PATH"] = str(instance)
        os.environ["ADSMANAGER_DATABASE_URL"] = database_url
        env = {**os.environ}
        if args.redis:
            import redis

            redis.Redis.from_url(REDIS_BENCH_URL).flushdb()
            env["ADSMANAGER_REDIS_URL"] = REDIS_BENCH_URL
        backend = ("PostgreSQL" if args.postgres else "SQLite") + (" + Redis" if args.redis else "")
        log(
            f"overspend under load ({backend}, {args.advertisers} advertisers with "
            f"{args.funds_micros} micros each, {args.threads} feed threads, {args.seconds} s)"
        )
        print(json.dumps({"backend": backend, "overspend": load_test(args, database_url, env)}))
        log(f"spend posting throughput ({args.charges} charges)")
        print(
            json.dumps(
                {"backend": backend, "posting": posting_throughput(database_url, args.charges)}
            )
        )


if __name__ == "__main__":
    main()

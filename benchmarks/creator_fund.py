"""The creator fund at scale: ingesting engagement, and computing one payout run.

1. A fresh database; N simulated creators (default 100,000) registered in bulk.
2. Ingestion: their engagement for D days (default 30: one video-day per creator per day,
   3,000,000 rows) through the ingestion service in batches of 1,000, as POST /v1/engagement
   writes them; then a sample of batches through the real HTTP API (gunicorn, 2 workers, two
   client threads).
3. Computing the run of the last day (each creator's trailing 30 days decide eligibility)
   with ``adsmanager payouts compute`` in a child process, whose peak memory is read from
   the kernel (ru_maxrss of the child).
4. Approving it: the shares posted to the ledger.

    python benchmarks/creator_fund.py                   # SQLite
    python benchmarks/creator_fund.py --postgres        # PostgreSQL
    python benchmarks/creator_fund.py --creators 10000  # smaller
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from auction_load import free_port, fresh_postgres, log, start_server  # noqa: E402

BATCH = 1_000


def _json_item(item: dict) -> dict:
    return {**item, "day": item["day"].isoformat()}


def ingest(db, rows, now) -> tuple[int, float]:
    from adsmanager.services import engagement

    batch, total, started = [], 0, time.perf_counter()
    for item in rows:
        batch.append(item)
        if len(batch) == BATCH:
            engagement.ingest(db, batch, now)
            total += len(batch)
            batch = []
            if total % 500_000 == 0:
                log(f"  {total:,} rows, {total / (time.perf_counter() - started):,.0f} rows/s")
    if batch:
        engagement.ingest(db, batch, now)
        total += len(batch)
    return total, time.perf_counter() - started


def ingest_over_http(port: int, key: str, batches: list[list[dict]]) -> float:
    """Rows per second with two client threads posting batches back to back."""
    bodies = [json.dumps({"items": [_json_item(i) for i in batch]}) for batch in batches]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    failures = []

    def post(part: list[str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for body in part:
            connection.request("POST", "/v1/engagement", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)

    threads = [threading.Thread(target=post, args=(bodies[i::2],)) for i in range(2)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"HTTP ingestion failed: {failures[:5]}")
    return sum(len(b) for b in batches) / elapsed


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--http-batches", type=int, default=100)
    parser.add_argument("--postgres", action="store_true")
    options = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="fund-bench-"))
    os.environ["ADSMANAGER_INSTANCE_PATH"] = str(instance)
    url = fresh_postgres() if options.postgres else f"sqlite:///{instance / 'bench.sqlite3'}"
    os.environ["ADSMANAGER_DATABASE_URL"] = url

    from adsmanager.db import Database, migrate
    from adsmanager.services import api_keys, creator_demo, creators, fund_rules, payout_runs
    from adsmanager.services.access import Actor
    from adsmanager.vocabulary import Role

    migrate.upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    last_day = now.date() - timedelta(days=1)
    admin = Actor("bench", Role.ADMIN)
    fund_rules.change(
        db,
        {"pool_mode": "FIXED", "fixed_pool_micros_per_day": 50_000_000_000},
        "benchmark",
        admin,
        now,
    )
    population = creator_demo.population(options.creators, now.date(), seed=3)
    started = time.perf_counter()
    creators.upsert_creators(db, population, now)
    log(f"{options.creators:,} creators registered in {time.perf_counter() - started:.1f} s")
    if db.dialect == "postgresql":
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")

    rows = creator_demo.engagement_rows(population, options.days, last_day, seed=3)
    log(f"ingesting {options.creators * options.days:,} rows through the service ...")
    ingested, seconds = ingest(db, rows, now)
    if db.dialect == "postgresql":
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")

    # A sample through HTTP: the first day again, with every count changed by one view.
    sample = []
    for item in creator_demo.engagement_rows(
        population, 1, last_day - timedelta(days=options.days)
    ):
        sample.append({**item, "views": item["views"] + 1})
        if len(sample) == options.http_batches * BATCH:
            break
    key = api_keys.create(db, admin, role=Role.FEED, advertiser_id=None, name="bench").secret
    port = free_port()
    server = start_server(port, {**os.environ})
    try:
        wait_for(port)
        http_rate = ingest_over_http(
            port, key, [sample[i : i + BATCH] for i in range(0, len(sample), BATCH)]
        )
    finally:
        os.killpg(server.pid, 15)
        server.wait(10)

    log(f"computing the run of {last_day} ...")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "adsmanager.cli", "payouts", "compute", "--period", str(last_day)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    compute_seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    [run] = payout_runs.runs(db, 10, None).items
    started = time.perf_counter()
    payout_runs.approve(db, run.id, Actor("bench-finance", Role.FINANCE), datetime.now(UTC))
    approve_seconds = time.perf_counter() - started

    store = "PostgreSQL" if options.postgres else "SQLite"
    totals = run.totals
    print(f"store: {store}; creators: {options.creators:,}; engagement rows: {ingested:,}")
    print(
        f"ingestion through the service (batches of {BATCH}): {ingested / seconds:,.0f} rows/s "
        f"({seconds:.1f} s)"
    )
    print(f"ingestion through HTTP (gunicorn 2 workers, 2 clients): {http_rate:,.0f} rows/s")
    print(
        f"compute one day's run: {compute_seconds:.1f} s (whole CLI process, imports included); "
        f"peak memory {peak_mb:,.0f} MB (target: 60 s, 1024 MB)"
    )
    print(
        f"  eligible {totals['eligible']:,}, payable {totals['payable_creators']:,}, "
        f"carried {totals['carried_creators']:,}, excluded {totals['excluded']:,}"
    )
    print(f"approve (ledger entries for {totals['eligible']:,} shares): {approve_seconds:.1f} s")
    db.dispose()


if __name__ == "__main__":
    main()

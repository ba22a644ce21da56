"""Load benchmark of the real server: gunicorn with 2 workers, load from other processes.

For each market size it seeds a fresh database with simulated ad groups, trains a LightGBM
model (at least 100 trees, with its calibration and position effect, as training serves it)
on simulated impressions, starts gunicorn, and prints:
- /healthz and /v1/auction maximum throughput (wrk, closed loop), from the same run;
- /v1/auction latency p50/p95/p99 at half its maximum throughput (open loop, fixed rate);
- worker memory (RSS) with the snapshot loaded;
- /v1/events ingestion rate in batches of 500 valid, distinct tokens: spread over 500 ads
  (as a feed reports them), and all for one ad (the worst case: every batch updates the same
  hourly delivery row).

    python benchmarks/auction_load.py                              # SQLite, 10,000 ad groups
    python benchmarks/auction_load.py --postgres --redis           # PostgreSQL + Redis
    python benchmarks/auction_load.py --ad-groups 1000,100000      # scaling

Needs wrk (Debian: apt-get install wrk). PostgreSQL runs use the database adsmanager_bench
(created if missing, emptied each run); Redis runs use Redis database 14 (flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/adsmanager_bench"
REDIS_BENCH_URL = "redis://127.0.0.1:6379/14"
T = TypeVar("T")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_postgres() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS adsmanager_bench WITH (FORCE)")
        connection.execute("CREATE DATABASE adsmanager_bench")
    return PG_BENCH_URL


def prepare(instance: Path, database_url: str, ad_groups: int) -> str:
    """Seed the market, train the model, make a feed key; returns the key."""
    os.environ["ADSMANAGER_INSTANCE_PATH"] = str(instance)
    os.environ["ADSMANAGER_DATABASE_URL"] = database_url
    from adsmanager.db import Database, migrate
    from adsmanager.services import api_keys, demo
    from adsmanager.services.access import Actor
    from adsmanager.vocabulary import Role
    from auction import ctr, simulator
    from auction.calibration import calibrate

    instance.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(database_url)
    db = Database(database_url)
    now = datetime.now(UTC)
    advertisers = max(ad_groups // 10, 1)
    market = simulator.make_market(advertisers, ad_groups // advertisers, seed=3, now=now)
    started = time.perf_counter()
    demo.seed_market(db, market)
    log(f"  seeded {len(market)} ad groups in {time.perf_counter() - started:.1f}s")
    users = simulator.make_users(5_000, seed=3)
    sample = random.Random(3).sample(market, min(len(market), 2_000))
    records = simulator.simulate_impressions(users, sample, 200_000, seed=3, now=now)
    started = time.perf_counter()
    rows = simulator.training_rows(records)
    cut = int(len(rows) * 0.85)
    train = ctr.TrainingRows(rows.X[:cut], rows.y[:cut])
    held_out = ctr.TrainingRows(rows.X[cut:], rows.y[cut:])
    # As training serves it: the trees, their calibration and the position effect.
    model = calibrate(ctr.train(train, num_trees=120), train, held_out)
    (instance / "ctr_model.txt").write_text(model.to_artifact())
    log(f"  trained {model.num_trees} trees in {time.perf_counter() - started:.1f}s")
    key = api_keys.create(
        db, Actor("bench", Role.ADMIN), role=Role.FEED, advertiser_id=None, name="bench"
    ).secret
    db.dispose()
    return key


def request_bodies(count: int) -> list[str]:
    from auction import simulator

    users = simulator.make_users(2_000, seed=5)
    rng = random.Random(5)
    bodies = []
    for number in range(count):
        user = rng.choice(users)
        bodies.append(
            json.dumps(
                {
                    "request_id": f"bench-{number}",
                    "user": simulator.feed_user(user),
                    "feed": [
                        {
                            "video_id": f"v{rng.randrange(10**6)}",
                            "creator_id": f"c{rng.randrange(1000)}",
                            "category": rng.choice(simulator.INTERESTS),
                        }
                        for _ in range(12)
                    ],
                }
            )
        )
    return bodies


def start_server(port: int, env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "adsmanager.wsgi:app",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def warm_up(port: int, key: str, bodies: list[str]) -> float:
    """Until every worker has built its snapshot: both answer an auction within a second,
    several times in a row. Returns how long that took."""
    from concurrent.futures import ThreadPoolExecutor

    def fast_in_a_row(lane: int) -> None:
        streak = 0
        while streak < 5:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/auction",
                data=bodies[lane].encode(),
                method="POST",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=300) as response:
                response.read()
            streak = streak + 1 if time.perf_counter() - started < 1 else 0

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as executor:
        list(executor.map(fast_in_a_row, range(4)))
    return time.perf_counter() - started


def worker_rss_mb(server: subprocess.Popen) -> list[float]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
    return sizes


def wrk(url: str, seconds: int, script: Path | None = None, connections: int = 16) -> dict:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "errors": int(non_2xx.group(1)) if non_2xx else 0}


def wrk_script(directory: Path, bodies: list[str], key: str) -> Path:
    """A wrk script that posts the prepared bodies in turn, one JSON document a line."""
    lines = directory / "bodies.txt"
    lines.write_text("\n".join(bodies) + "\n")
    script = directory / "auction.lua"
    script.write_text(f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
local bodies = {{}}
for line in io.lines("{lines}") do bodies[#bodies + 1] = line end
local n = 0
request = function()
  n = n % #bodies + 1
  return wrk.format(nil, "/v1/auction", nil, bodies[n])
end
""")
    return script


async def open_loop(
    port: int, key: str, bodies: list[str], rate: float, seconds: float
) -> list[float]:
    """Send at a fixed rate, whatever the server's pace; latency is measured from when each
    request was due, so a stalled server cannot hide its queue. Gunicorn's sync workers
    close the connection after each response, so each request has its own."""
    latencies: list[float] = []

    async def one(body: str, due: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = body.encode()
        writer.write(
            f"POST /v1/auction HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}"
            f"\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
            "\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        response = await reader.read()
        if not response.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(response[:200])
        latencies.append(time.perf_counter() - due)
        writer.close()

    tasks = []
    start = time.perf_counter()
    for number in range(int(rate * seconds)):
        due = start + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(bodies[number % len(bodies)], due)))
    await asyncio.gather(*tasks)
    return latencies


def without_collector(measure: Callable[[], T]) -> T:
    """``measure()`` with this process's cyclic garbage collector off and its heap frozen. The
    open loop runs in the process that simulated the market and trained the model: a full
    collection of that heap stalled it for 60-110 ms, and every request due meanwhile went out
    late, a delay the latencies then counted against the server."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        return measure()
    finally:
        gc.enable()
        gc.unfreeze()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def served_ads(database_url: str, count: int) -> list[tuple[str, str, str, str]]:
    """(ad, ad group, campaign, advertiser) ids of ``count`` ads, spread over the market."""
    from sqlalchemy import text

    from adsmanager.db import Database

    db = Database(database_url)
    with db.transaction() as session:
        rows = session.execute(
            text(
                "SELECT a.id, g.id, g.campaign_id, a.advertiser_id FROM ads a "
                "JOIN ad_groups g ON g.id = a.ad_group_id ORDER BY a.id"
            )
        ).all()
    db.dispose()
    step = max(1, len(rows) // count)
    return [tuple(row) for row in rows[::step][:count]]


def events_rate(port: int, key: str, ads: list[tuple[str, str, str, str]], batches: int) -> float:
    """Valid, distinct impression tokens for real ads (each batch's events spread over
    ``ads`` in turn), signed with the server's secret."""
    from adsmanager.config import Settings
    from auction.tokens import TokenSigner, TrackedEvent

    signer = TokenSigner(Settings.from_env().secret_key)
    expires = int(time.time()) + 3600
    payloads = []
    for batch in range(batches):
        tokens = []
        for i in range(500):
            ad_id, ad_group_id, campaign_id, advertiser_id = ads[(batch * 500 + i) % len(ads)]
            event = TrackedEvent(
                impression_id=f"imp_bench_{batch}_{i}_{secrets.token_hex(4)}",
                event_type="impression",
                request_id="bench",
                user_id=f"u{i % 997}",
                ad_id=ad_id,
                ad_group_id=ad_group_id,
                campaign_id=campaign_id,
                advertiser_id=advertiser_id,
                billing_event="CPM",
                charge_micros=1,
                position=3,
                expires_at=expires,
            )
            tokens.append(signer.sign(event))
        payloads.append(json.dumps({"events": [{"token": t} for t in tokens]}).encode())
    from concurrent.futures import ThreadPoolExecutor

    def send(payload: bytes) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/events",
            data=payload,
            method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["accepted"]

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as executor:
        accepted = sum(executor.map(send, payloads))
    return accepted / (time.perf_counter() - started)


def snapshot_times(database_url: str) -> tuple[float, float]:
    """Seconds to build a snapshot from scratch, and to refresh it after one bid change."""
    from sqlalchemy import text

    from adsmanager.db import Database
    from adsmanager.serving.snapshot import SnapshotHolder

    db = Database(database_url)
    holder = SnapshotHolder(db, refresh_seconds=0, prior_ctr=0.02)
    started = time.perf_counter()
    snapshot = holder.current()
    built = time.perf_counter() - started
    some = next(iter(snapshot.ad_groups))
    with db.transaction() as session:
        session.execute(
            text(
                "UPDATE ad_groups SET bid_micros = bid_micros + 1, updated_at = :now WHERE id = :id"
            ),
            {"now": datetime.now(UTC).replace(tzinfo=None), "id": some},
        )
    started = time.perf_counter()
    assert holder.refresh()
    refreshed = time.perf_counter() - started
    db.dispose()
    return built, refreshed


def run(ad_groups: int, args) -> dict:
    log(
        f"== {ad_groups} ad groups, {'PostgreSQL' if args.postgres else 'SQLite'}"
        f"{' + Redis' if args.redis else ''}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp) / "instance"
        database_url = fresh_postgres() if args.postgres else f"sqlite:///{instance}/bench.sqlite3"
        key = prepare(instance, database_url, ad_groups)
        env = {
            **os.environ,
            "ADSMANAGER_INSTANCE_PATH": str(instance),
            "ADSMANAGER_DATABASE_URL": database_url,
            "ADSMANAGER_LOG_LEVEL": "WARNING",
        }
        if args.redis:
            import redis

            redis.Redis.from_url(REDIS_BENCH_URL).flushdb()
            env["ADSMANAGER_REDIS_URL"] = REDIS_BENCH_URL
        port = free_port()
        server = start_server(port, env)
        try:
            bodies = request_bodies(2_000)
            script = wrk_script(Path(tmp), bodies, key)
            base = f"http://127.0.0.1:{port}"
            log(f"  workers ready after {warm_up(port, key, bodies):.1f}s (snapshot builds)")
            health = wrk(base + "/healthz", args.seconds)
            auction = wrk(base + "/v1/auction", args.seconds, script)
            rate = auction["rps"] / 2
            latencies = without_collector(
                lambda: asyncio.run(open_loop(port, key, bodies, rate, args.seconds))
            )
            rss = worker_rss_mb(server)
            ads = served_ads(database_url, 500)
            # Events of many ads, as a feed reports them; then every event of one ad, whose
            # hourly delivery row each batch's transaction then updates in turn.
            events = events_rate(port, key, ads, batches=args.event_batches)
            hot_ad = events_rate(port, key, ads[:1], batches=args.event_batches)
            built, refreshed = snapshot_times(database_url)
            log(
                f"  snapshot: built in {built:.2f}s, refreshed after one change in {refreshed:.2f}s"
            )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return {
        "ad_groups": ad_groups,
        "healthz_rps": health["rps"],
        "auction_rps": auction["rps"],
        "auction_errors": auction["errors"],
        "ratio": auction["rps"] / health["rps"],
        "rate": rate,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * percentile(latencies, 0.95),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "worker_rss_mb": max(rss),
        "refresh_s": refreshed,
        "events_per_s": events,
        "hot_ad_events_per_s": hot_ad,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--ad-groups", default="10000", help="comma-separated market sizes (default 10000)"
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--redis", action="store_true", help="counters in Redis")
    parser.add_argument("--seconds", type=int, default=10, help="length of each load phase")
    parser.add_argument("--event-batches", type=int, default=40, help="batches of 500 events")
    args = parser.parse_args()
    rows = [run(int(size), args) for size in args.ad_groups.split(",")]
    print(
        f"{'ad groups':>9} {'healthz/s':>9} {'auction/s':>9} {'ratio':>6} {'at rate':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'RSS MB':>7} {'events/s':>9} {'one ad':>7} "
        f"{'refresh s':>9} errors"
    )
    for row in rows:
        print(
            f"{row['ad_groups']:>9} {row['healthz_rps']:>9.0f} {row['auction_rps']:>9.0f} "
            f"{row['ratio']:>6.1%} {row['rate']:>7.0f} {row['p50_ms']:>7.2f} "
            f"{row['p95_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['worker_rss_mb']:>7.0f} "
            f"{row['events_per_s']:>9.0f} {row['hot_ad_events_per_s']:>7.0f} "
            f"{row['refresh_s']:>9.2f} {row['auction_errors']}"
        )


if __name__ == "__main__":
    main()

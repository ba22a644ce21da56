"""What a serving worker's spend catch-up (``recorded_spend``) costs as spend history grows.

Seeds a simulated market, records spend for every ad group's first ad in each of the last
``--days`` days' hours (the delivery rows the events path writes), and prints, best of
three each:
- a first call (``recorded_spend``: what a serving process reads as it starts);
- a later call of the same ``RecordedSpend`` 10 s after the one before (what a worker with
  in-process counters runs every ``ADSMANAGER_SPEND_REFRESH_SECONDS``);
- a later call once another hour is over (it adds that hour to the sums it keeps).
A later call should cost what today's delivery costs, whatever the length of the history.

    python benchmarks/spend_catch_up.py                        # SQLite, 10,000 ad groups, 30 days
    python benchmarks/spend_catch_up.py --days 2,30 --postgres  # PostgreSQL (adsmanager_bench)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text, update

from adsmanager.db import Database, migrate
from adsmanager.db.delivery import DeliveryHour
from adsmanager.db.models import Ad, AdGroup, Advertiser, Campaign
from adsmanager.services import demo
from adsmanager.serving.recorded_spend import RecordedSpend
from auction import simulator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from auction_load import fresh_postgres  # noqa: E402


def record_history(db: Database, market, now: datetime, days: int) -> int:
    """A delivery row per ad group (its first ad) and hour over the last ``days`` days, by
    advertisers, campaigns and ad groups last changed before them."""
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=days)
    with db.transaction() as session:
        for table in (Advertiser, Campaign, AdGroup, Ad):
            session.execute(update(table).values(created_at=first_hour, updated_at=first_hour))
    hours = [first_hour + timedelta(hours=h) for h in range(days * 24 + 1)]
    written = 0
    for start in range(0, len(hours), 24):
        rows = [
            {
                "ad_id": group.ads[0].ad_id,
                "hour": hour,
                "ad_group_id": group.ad_group_id,
                "campaign_id": group.campaign_id,
                "advertiser_id": group.advertiser_id,
                "impressions": 100,
                "clicks": 2,
                "spend_micros": 1_000 + n % 997,
            }
            for hour in hours[start : start + 24]
            for n, group in enumerate(market)
        ]
        with db.transaction() as session:
            session.execute(insert(DeliveryHour), rows)
        written += len(rows)
    return written


def best_of_3(call) -> float:
    timings = []
    for number in range(3):
        started = time.perf_counter()
        call(number)
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ad-groups", type=int, default=10_000)
    parser.add_argument("--days", default="30", help="comma-separated history lengths")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    now = datetime.now(UTC)
    advertisers = max(args.ad_groups // 10, 1)
    market = simulator.make_market(advertisers, args.ad_groups // advertisers, seed=3, now=now)
    lifetime = sum(group.campaign_budget.mode == "LIFETIME" for group in market)
    print(
        f"{len(market)} ad groups, {lifetime} in campaigns with a lifetime budget; "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}"
    )
    print(f"{'days':>5} {'delivery rows':>13} {'first s':>8} {'later s':>8} {'hour on s':>9}")
    for days in (int(value) for value in args.days.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            url = fresh_postgres() if args.postgres else f"sqlite:///{tmp}/spend.sqlite3"
            migrate.upgrade(url)
            db = Database(url)
            demo.seed_market(db, market)
            rows = record_history(db, market, now, days)
            if args.postgres:
                # The statistics autovacuum gathers after such a load: without them the
                # planner reads the whole table for the last hour's rows.
                with db.transaction() as session:
                    session.execute(text("ANALYZE"))
            first = best_of_3(lambda _, db=db: RecordedSpend(db)(now))
            kept = RecordedSpend(db)
            kept(now)
            later = best_of_3(lambda n, kept=kept: kept(now + timedelta(seconds=10 * (n + 1))))
            hour_on = best_of_3(lambda n, kept=kept: kept(now + timedelta(hours=n + 1)))
            print(f"{days:>5} {rows:>13,} {first:>8.3f} {later:>8.3f} {hour_on:>9.3f}")
            db.dispose()


if __name__ == "__main__":
    main()

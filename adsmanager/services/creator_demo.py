"""A simulated creator population and its daily engagement, for the demo and the benchmark.

Audiences are heavy-tailed, as on real platforms: most creators are small, a few are huge.
Everything is drawn from a seeded generator, so the same arguments give the same data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from adsmanager.db.database import Database
from adsmanager.services.access import Actor
from adsmanager.vocabulary import PeriodKind, Role

COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "JP", "BR", "IN", "CA", "AU", "MX", "NG")
STANDINGS = ("GOOD",) * 18 + ("WARNED", "SUSPENDED")


def population(count: int, today: date, seed: int = 1) -> list[dict]:
    """Creators as the platform registers them (the shape of PUT /v1/creators)."""
    rng = random.Random(seed)
    registered = []
    for i in range(count):
        followers = int(rng.lognormvariate(9.0, 1.6))
        joined = today - timedelta(days=rng.randint(0, 400)) if rng.random() < 0.85 else None
        registered.append(
            {
                "id": f"creator_{i:06d}",
                "country": rng.choice(COUNTRIES),
                "verified_age": rng.randint(16, 60) if rng.random() < 0.95 else None,
                "followers": followers,
                "standing": rng.choice(STANDINGS),
                "joined_on": joined,
                "stripe_account_id": None,
            }
        )
    return registered


def engagement_rows(
    creators: list[dict], days: int, last_day: date, seed: int = 1
) -> Iterator[dict]:
    """One video-day per creator per day for ``days`` days up to ``last_day`` (the shape of
    an item of POST /v1/engagement), in day order."""
    rng = random.Random(seed)
    # Each creator's typical daily reach follows from their audience, with a heavy tail.
    reach = {c["id"]: max(1.0, c["followers"] * rng.lognormvariate(-0.5, 0.8)) for c in creators}
    for back in range(days - 1, -1, -1):
        day = last_day - timedelta(days=back)
        for c in creators:
            views = int(reach[c["id"]] * rng.lognormvariate(0.0, 0.5))
            qualified = int(views * rng.uniform(0.4, 0.8))
            invalid = int(qualified * 0.02) if rng.random() < 0.05 else 0
            yield {
                "creator_id": c["id"],
                "video_id": f"video_{c['id'][8:]}_{day.toordinal() % 3}",
                "day": day,
                "views": views,
                "qualified_views": qualified,
                "invalid_views": invalid,
                "invalid_traffic": rng.random() < 0.002,
                "watch_time_seconds": int(qualified * rng.uniform(8, 25)),
                "likes": int(qualified * rng.uniform(0.01, 0.08)),
                "comments": int(qualified * rng.uniform(0.0, 0.01)),
                "shares": int(qualified * rng.uniform(0.0, 0.005)),
            }


def seed(
    db: Database, count: int, days: int, now: datetime, pool_micros_per_day: int, seed: int = 1
) -> int:
    """Creators with ``days`` days of engagement up to yesterday, a fixed daily pool (a new
    rules version), and yesterday's payout run as a draft; the number of engagement rows."""
    from adsmanager.services import creators as registry
    from adsmanager.services import engagement, fund_rules, payout_runs

    admin = Actor("demo", Role.ADMIN)
    fund_rules.change(
        db,
        {"pool_mode": "FIXED", "fixed_pool_micros_per_day": pool_micros_per_day},
        "demo: a fixed daily pool",
        admin,
        now,
    )
    registered = population(count, now.date(), seed)
    upserted = registry.upsert_creators(db, registered, now)
    if upserted.invalid:
        raise ValueError(f"demo creators refused: {upserted.errors[:3]}")
    yesterday = now.date() - timedelta(days=1)
    rows = list(engagement_rows(registered, days, yesterday, seed))
    for start in range(0, len(rows), 1_000):
        engagement.ingest(db, rows[start : start + 1_000], now)
    period = payout_runs.Period(PeriodKind.DAY, yesterday, yesterday)
    payout_runs.compute(db, period, admin, now)
    return len(rows)

"""What the shared counters cost the auction and the events endpoint, in process and in Redis.

Prints the time for what one auction reads per chunk of 50 candidates (``CounterState.read``:
spend, the viewer's capped impressions, the funded advertisers' spend; balances enforced)
and for what one batch of 500 accepted impressions adds (``Counters.add``), best of 5 rounds.
A read is timed twice: wall time (what the auction waits) and this process's CPU time (what
the worker spends on it, which no other request can use; the rest is the wait for Redis).

    python benchmarks/counters.py                                  # in process only
    python benchmarks/counters.py --redis redis://127.0.0.1:6379/13  # and in Redis

The Redis database given is flushed first.
"""

from __future__ import annotations

import argparse
import random
import time
import timeit
from datetime import UTC, date, datetime, timedelta

from adsmanager.serving.balances import Reading
from adsmanager.serving.counters import Charge, InProcessCounters, RedisCounters, SpendKey
from adsmanager.serving.runtime import CounterState
from auction.types import AdGroup, Budget, Targeting

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


class _Balances:
    """A fixed ledger reading: every advertiser funded, as the auction's worst case."""

    def __init__(self, advertisers: int) -> None:
        ids = [f"adv_{n}" for n in range(advertisers)]
        self._reading = Reading(dict.fromkeys(ids, 10**12), dict.fromkeys(ids, 0))

    def current(self) -> Reading:
        return self._reading


def _candidates(count: int) -> list[AdGroup]:
    """A chunk as the first stage hands it over: ad groups of several campaigns and
    advertisers, half of them with a budget of their own, a third with a frequency cap."""
    return [
        AdGroup(
            ad_group_id=f"adg_{n}",
            campaign_id=f"cmp_{n // 2}",
            advertiser_id=f"adv_{n // 3}",
            objective="TRAFFIC",
            billing_event="CPC",
            bid_micros=500_000,
            targeting=Targeting(),
            ads=(),
            timezone=("UTC", "America/New_York", "Asia/Tokyo")[n % 3],
            campaign_start=NOW - timedelta(days=9),
            campaign_end=None,
            campaign_budget=Budget("DAILY", 10**9),
            ad_group_budget=Budget("DAILY", 10**8) if n % 2 else None,
            frequency_cap=(3, 24) if n % 3 == 0 else None,
        )
        for n in range(count)
    ]


def _batch(candidates: list[AdGroup], size: int, rng: random.Random) -> list[Charge]:
    charges = []
    for number in range(size):
        group = rng.choice(candidates)
        charges.append(
            Charge(
                SpendKey(group.ad_group_id, group.campaign_id, date(2026, 11, 27)),
                1_000,
                NOW,
                (f"u{rng.randrange(1000)}", f"imp_{number}_{rng.getrandbits(32)}"),
                group.advertiser_id,
            )
        )
    return charges


def measure(name: str, counters) -> None:
    candidates = _candidates(50)
    rng = random.Random(1)
    counters.add(_batch(candidates, 2_000, rng))  # some spend and views to read back
    state = CounterState(counters, _Balances(len(candidates)))  # type: ignore[arg-type]
    read = min(timeit.repeat(lambda: state.read("u7", candidates, NOW), number=200, repeat=5))
    read_cpu = min(
        timeit.repeat(
            lambda: state.read("u7", candidates, NOW),
            number=200,
            repeat=5,
            timer=time.process_time,
        )
    )
    batches = [_batch(candidates, 500, rng) for _ in range(5 * 20)]
    add = min(
        timeit.repeat(lambda: counters.add(batches.pop()), number=20, repeat=5),
    )
    print(
        f"{name:>10}: read for 50 candidates {read / 200 * 1e6:8.0f} us "
        f"(CPU {read_cpu / 200 * 1e6:4.0f} us), "
        f"add 500 impressions {add / 20 * 1e3:6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", help="a Redis database to measure in (flushed first)")
    args = parser.parse_args()
    measure("in-process", InProcessCounters())
    if args.redis:
        import redis

        redis.Redis.from_url(args.redis).flushdb()
        measure("Redis", RedisCounters(args.redis))


if __name__ == "__main__":
    main()

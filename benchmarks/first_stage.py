"""What scoring only the top of the first stage costs, on the simulator.

The engine ranks live, targeted candidates by a prior eCPM and scores only the first
``first_stage_size`` of them with LightGBM. This replays the same simulated feed pages
through the pure engine with several sizes (and with every candidate scored) and prints the
expected revenue per 1000 pages — CPM prices per impression plus CPC prices times the
simulator's true click probability — and the engine's time per page.

    python benchmarks/first_stage.py [--ad-groups 10000] [--pages 1000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime

from adsmanager.services.auction import per_event_price
from adsmanager.serving.counters import InProcessCounters
from adsmanager.serving.runtime import CounterState
from auction import ctr, engine, simulator
from auction.market import Market
from auction.types import CPC, FeedItem, ReservePrices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ad-groups", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=1_000)
    args = parser.parse_args()
    now = datetime.now(UTC)
    market = simulator.make_market(args.ad_groups // 10, 10, seed=3, now=now)
    users = simulator.make_users(5_000, seed=3)
    sample = random.Random(3).sample(market, min(len(market), 2_000))
    model = ctr.train(
        simulator.training_rows(
            simulator.simulate_impressions(users, sample, 200_000, seed=3, now=now)
        ),
        num_trees=120,
    )
    truth = simulator.ClickModel(3)
    rng = random.Random(9)
    requests = [
        engine.Request(
            request_id=f"p{number}",
            user=rng.choice(users),
            now=now,
            feed=tuple(
                FeedItem(
                    f"v{number}_{i}", f"c{rng.randrange(1000)}", rng.choice(simulator.INTERESTS)
                )
                for i in range(12)
            ),
        )
        for number in range(args.pages)
    ]
    base = engine.AuctionConfig(
        reserves=ReservePrices(100_000, 10_000), prior_ctr=engine.AuctionConfig.prior_ctr
    )
    shop = Market(market, base.prior_ctr)
    print(f"{'first stage':>11} {'revenue/1000 pages (USD)':>25} {'ms/page p50':>11}")
    results = {}
    for size in (25, 50, 100, 200, len(market)):
        config = replace(base, first_stage_size=size)
        state = CounterState(InProcessCounters())  # no spend: budgets never bind here
        revenue, times = 0.0, []
        for request in requests:
            started = time.perf_counter()
            outcome = engine.run(request, shop, model, state, config)
            times.append(time.perf_counter() - started)
            for winner in outcome.winners:
                group = winner.ad_group
                price = per_event_price(group.billing_event, winner.placement.price_micros)
                if group.billing_event == CPC:
                    price *= truth.probability(request.user, group, winner.placement.position, now)
                revenue += price
        results[size] = revenue
        label = "all" if size == len(market) else str(size)
        print(
            f"{label:>11} {revenue / args.pages * 1000 / 1e6:>25.2f} "
            f"{revenue / results.get(len(market), revenue) if size == len(market) else 0:>7}"
            f" {1000 * statistics.median(times):>11.2f}"
        )
    everything = results[len(market)]
    print("revenue kept by each first-stage size, against scoring every candidate:")
    for size, revenue in results.items():
        label = "all" if size == len(market) else str(size)
        print(f"  {label:>6}: {revenue / everything:.1%}")


if __name__ == "__main__":
    main()

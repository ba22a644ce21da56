"""What scoring only the top of the first stage costs, on the simulator.

The engine ranks live, targeted candidates by a prior eCPM and scores only the first
``first_stage_size`` of them with LightGBM. Serving values a CPC bid there at its ad group's
click-through history (``Market`` with a history); the older order, at one platform-wide
prior, is measured beside it. This replays the same simulated feed pages through the pure
engine with several sizes (and with every candidate scored) and prints the
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
from auction.history import HistoryRecorder
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
    truth = simulator.ClickModel(3)
    # A day of impressions over the whole market: the model trains on them, and their
    # click-through counts are the history its features read (as serving's would be).
    impressions = simulator.simulate_impressions(
        users, market, 500_000, seed=3, now=now, click_model=truth
    )
    model = ctr.train(simulator.training_rows(impressions), num_trees=120)
    recorder = HistoryRecorder()
    for impression in impressions:
        recorder.observe(impression.ad_group, impression.clicked)
    history = recorder.history()
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
    orders = {
        "bid x prior": Market(market, base.prior_ctr),
        "bid x history": Market(market, base.prior_ctr, history),
    }
    runs = [(name, size) for name in orders for size in (25, 50, 100, 200)]
    runs.append(("bid x history", len(market)))  # every candidate: the order does not matter
    print(f"{'first stage order':>17} {'size':>6} {'USD per 1000 pages':>19} {'ms/page p50':>11}")
    results = {}
    for name, size in runs:
        config = replace(base, first_stage_size=size)
        state = CounterState(InProcessCounters())  # no spend: budgets never bind here
        revenue, times = 0.0, []
        for request in requests:
            started = time.perf_counter()
            outcome = engine.run(request, orders[name], model, state, config, history)
            times.append(time.perf_counter() - started)
            for winner in outcome.winners:
                group = winner.ad_group
                price = per_event_price(group.billing_event, winner.placement.price_micros)
                if group.billing_event == CPC:
                    price *= truth.probability(request.user, group, winner.placement.position, now)
                revenue += price
        label = "all" if size == len(market) else str(size)
        results[name, label] = revenue
        print(
            f"{name:>17} {label:>6} {revenue / args.pages * 1000 / 1e6:>19.2f} "
            f"{1000 * statistics.median(times):>11.2f}"
        )
    everything = results["bid x history", "all"]
    print("revenue kept, against scoring every candidate:")
    for (name, label), revenue in results.items():
        print(f"  {name:>17} {label:>6}: {revenue / everything:.1%}")


if __name__ == "__main__":
    main()

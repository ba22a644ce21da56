"""How good the CTR model is on the simulator, against the best possible model.

Simulates days of impressions from the simulator's hidden click model, trains LightGBM on
the first days (the newest 15% of them fit the isotonic calibration), and evaluates on the
following, held-out day: the model, the oracle (the click model's true probabilities), the
attainable oracle (the true click model, but each ad group's hidden quality known only as
well as its impressions in the training days tell it: the best any model fed that history
could do) and the constant prior. Then it replays feed pages of that day through the real
auction engine with each of them and compares expected revenue, and the value of the ads
shown to their advertisers (which, unlike revenue, does not depend on what they paid).
Last, the time to train on 1 million impressions and the cost of scoring a candidate.

    python benchmarks/ctr_quality.py [--train-days 3] [--per-day 300000] [--held-out 1000000]
        [--seed 11]

Targets (issue 4): log loss within 3% of the oracle's, AUC within 0.02, calibration ratio in
[0.95, 1.05] overall and for each position with at least 1000 impressions, revenue with the
model at least 95% of the oracle's and clearly above the prior's, 1M rows trained in <= 60 s.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np

from adsmanager.services.auction import per_event_price
from adsmanager.serving.counters import InProcessCounters
from adsmanager.serving.runtime import CounterState
from auction import ctr, engine, evaluation, simulator
from auction.calibration import PositionEffect, calibrate
from auction.features import FEATURE_NAMES
from auction.history import HistoryRecorder
from auction.market import Market
from auction.types import CPC, AdGroup, FeedItem, ReservePrices, User

END = datetime(2026, 11, 20, tzinfo=UTC)
SEED = 11
POSITION = FEATURE_NAMES.index("position")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class OraclePredictor(ctr.SlotsFromPredict):
    """The simulator's true click probabilities: what a perfect model would predict."""

    version = "oracle"

    def __init__(self, truth: simulator.ClickModel) -> None:
        self.truth = truth

    def predict(self, user: User, ad_groups: Sequence[AdGroup], positions, now, history=None):
        return [
            self.truth.probability(user, g, p, now)
            for g, p in zip(ad_groups, positions, strict=True)
        ]


class AttainableOracle(ctr.SlotsFromPredict):
    """The click model with each ad group's hidden quality replaced by its posterior given
    the training impressions: the mean click probability over a grid of qualities, weighted
    by the quality's normal prior times the likelihood of the ad group's clicks (whose other
    effects are known exactly). No model that learns quality from the same history can do
    better on average, so the gap between it and the oracle is the data's, not the model's."""

    version = "attainable"
    GRID = np.linspace(-4.0, 4.0, 81) * simulator.QUALITY_SPREAD

    def __init__(self, truth: simulator.ClickModel, records) -> None:
        self.truth = truth
        log_prior = -0.5 * (self.GRID / simulator.QUALITY_SPREAD) ** 2
        self.prior = _normalised(log_prior)
        observed: dict[str, tuple[list[float], list[bool]]] = {}
        for record in records:
            offsets, clicks = observed.setdefault(record.ad_group.ad_group_id, ([], []))
            offsets.append(self._offset(record.true_p, record.ad_group.ad_group_id))
            clicks.append(record.clicked)
        self.posterior = {}
        for ad_group_id, (offsets, clicks) in observed.items():
            log_odds = np.array(offsets)[:, None] + self.GRID[None, :]
            clicked = np.array(clicks)[:, None]
            # log p = -log(1 + e^-z), log(1 - p) = -log(1 + e^z)
            likelihood = -np.logaddexp(0.0, np.where(clicked, -log_odds, log_odds)).sum(axis=0)
            self.posterior[ad_group_id] = _normalised(log_prior + likelihood)

    def _offset(self, probability: float, ad_group_id: str) -> float:
        """The log-odds of ``probability`` without the ad group's quality."""
        return math.log(probability / (1 - probability)) - self.truth.quality(ad_group_id)

    def probabilities(self, offsets: np.ndarray, ad_group_ids: Sequence[str]) -> np.ndarray:
        weights = np.array([self.posterior.get(i, self.prior) for i in ad_group_ids])
        return (weights / (1 + np.exp(-(offsets[:, None] + self.GRID[None, :])))).sum(axis=1)

    def predict(self, user: User, ad_groups: Sequence[AdGroup], positions, now, history=None):
        offsets = np.array(
            [
                self._offset(self.truth.probability(user, g, p, now), g.ad_group_id)
                for g, p in zip(ad_groups, positions, strict=True)
            ]
        )
        return self.probabilities(offsets, [g.ad_group_id for g in ad_groups]).tolist()

    def predict_records(self, records) -> np.ndarray:
        offsets = np.array([self._offset(r.true_p, r.ad_group.ad_group_id) for r in records])
        ids = [r.ad_group.ad_group_id for r in records]
        step = 20_000
        return np.concatenate(
            [
                self.probabilities(offsets[i : i + step], ids[i : i + step])
                for i in range(0, len(ids), step)
            ]
        )


def _normalised(log_weights: np.ndarray) -> np.ndarray:
    weights = np.exp(log_weights - log_weights.max())
    return weights / weights.sum()


def simulate_days(
    users, market, days: int, per_day: int, first_day_end: datetime, truth, seed: int
):
    """Records of ``days`` consecutive days, oldest first, one seed per day."""
    records = []
    for day in range(days):
        records += simulator.simulate_impressions(
            users,
            market,
            per_day,
            seed=seed * 100 + day,
            now=first_day_end + timedelta(days=day),
            click_model=truth,
        )
    return records


def position_z_scores(labels, probabilities, positions) -> dict[int, float]:
    """Per position, (observed - predicted clicks) in standard deviations of the observed
    count if the probabilities were true (sum of p(1 - p)): about normal with unit spread for
    a calibrated model, so it tells sampling noise from a biased slot."""
    scores = {}
    for position in np.unique(positions):
        shown = positions == position
        p = probabilities[shown]
        scores[int(position)] = (labels[shown].sum() - p.sum()) / math.sqrt((p * (1 - p)).sum())
    return scores


def sampled_position_slope(true_p, positions, labels) -> tuple[float, float]:
    """The position slope that the same clicks give when everything else about each
    impression is known (its true log-odds without the position term as the offset), and the
    slope's standard error: how far sampling alone puts a fitted slope from the truth."""
    positions = np.asarray(positions, np.float64)
    log_odds = np.log(true_p) - np.log1p(-true_p) - simulator.POSITION_SLOPE * positions
    rows = (1 / (1 + np.exp(-log_odds)), positions, labels)
    spread = np.sum(true_p * (1 - true_p) * (positions - positions.mean()) ** 2)
    return PositionEffect.fit(rows, rows).slope, 1 / math.sqrt(spread)


def metrics_line(name: str, report: dict) -> str:
    return (
        f"  {name:12s} log loss {report['log_loss']:.5f}  AUC {report['auc']:.4f}  "
        f"NE {report['normalized_entropy']:.4f}  calibration {report['calibration_ratio']:.4f}"
    )


class Replay(NamedTuple):
    """Micros over the replayed pages: what the winners paid, and what their ads were worth
    to their advertisers (each winner's bid times the true chance of its billing event)."""

    revenue: float
    value: float


def expected_revenue(
    pages, market: Market, predictor, truth, reserves, history, exploration_share=0.05, served=None
) -> Replay:
    """Expected micros: CPM impressions at their price, CPC clicks at theirs times the true
    pCTR. ``served`` (a dict) counts the impressions of each ad group.

    Revenue rewards an underrated CPC winner (it pays more per click), so the value of the
    allocation, which depends only on which ads were shown, is reported beside it."""
    config = engine.AuctionConfig(reserves=reserves, exploration_share=exploration_share)
    state = CounterState(InProcessCounters())  # balances not enforced
    revenue = value = 0.0
    for request in pages:
        outcome = engine.run(request, market, predictor, state, config, history)
        for winner in outcome.winners:
            if served is not None:
                served[winner.ad_group.ad_group_id] = served.get(winner.ad_group.ad_group_id, 0) + 1
            group = winner.ad_group
            price = per_event_price(group.billing_event, winner.placement.price_micros)
            worth = per_event_price(group.billing_event, group.bid_micros)
            if group.billing_event == CPC:
                chance = truth.probability(
                    request.user, group, winner.placement.position, request.now
                )
                price, worth = price * chance, worth * chance
            revenue += price
            value += worth
    return Replay(revenue, value)


def feed_pages(users, count: int, start: datetime, seconds: int, rng: random.Random):
    return [
        engine.Request(
            request_id=f"page-{start:%H%M}-{number}",
            user=rng.choice(users),
            now=start + timedelta(seconds=rng.randrange(seconds)),
            feed=tuple(
                FeedItem(
                    f"v{number}_{i}", f"c{rng.randrange(1000)}", rng.choice(simulator.INTERESTS)
                )
                for i in range(12)
            ),
        )
        for number in range(count)
    ]


def cold_start(
    users, market, model, truth, reserves, history, start, pages: int, seed: int
) -> None:
    """New ad groups (no history) join at ``start``: their impressions in the first hour,
    with exploration (5% of pages) and without."""
    newcomers = [
        replace(group, ad_group_id=f"new_{number:03d}", advertiser_id=f"new_adv_{number:03d}")
        for number, group in enumerate(simulator.make_market(10, 2, seed=seed + 1, now=END))
    ]
    shop = Market([*market, *newcomers], engine.AuctionConfig.prior_ctr, history)
    hour = feed_pages(users, pages, start, 3600, random.Random(seed + 2))
    print(f"cold start: {len(newcomers)} new ad groups, first simulated hour ({pages:,} pages):")
    for share in (0.05, 0.0):
        served: dict[str, int] = {}
        revenue = expected_revenue(
            hour, shop, model, truth, reserves, history, share, served
        ).revenue
        counts = [served.get(group.ad_group_id, 0) for group in newcomers]
        print(
            f"  exploration {share:.0%}: new ad groups got {sum(counts):,} impressions "
            f"(median {statistics.median(counts):.0f}, none for {counts.count(0)}) of "
            f"{sum(served.values()):,}; revenue {revenue / pages * 1000 / 1e6:.2f} USD per "
            "1000 pages"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=300_000)
    parser.add_argument(
        "--held-out", type=int, default=1_000_000, help="impressions of the held-out day"
    )
    parser.add_argument("--ad-groups", type=int, default=2_000)
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--pages", type=int, default=2_000)
    parser.add_argument("--hour-pages", type=int, default=10_000, help="cold-start hour")
    parser.add_argument("--train-1m", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--seed", type=int, default=SEED, help="another simulated market, its users and days"
    )
    args = parser.parse_args()
    seed = args.seed

    truth = simulator.ClickModel(seed)
    users = simulator.make_users(20_000, seed=seed)
    market = simulator.make_market(args.ad_groups // 10, 10, seed=seed, now=END)
    first_day_end = END - timedelta(days=args.train_days)
    started = time.perf_counter()
    records = simulate_days(
        users, market, args.train_days, args.per_day, first_day_end, truth, seed
    )
    records += simulator.simulate_impressions(
        users, market, args.held_out, seed=seed * 100 + args.train_days, now=END, click_model=truth
    )
    log(f"simulated {len(records):,} impressions in {time.perf_counter() - started:.0f} s")
    held_out_start = END - timedelta(days=1)
    cut = next(i for i, r in enumerate(records) if r.at > held_out_start)
    rows = simulator.training_rows(records)
    true_p = np.array([r.true_p for r in records])
    calibration_cut = int(cut * 0.85)
    train = ctr.TrainingRows(rows.X[:calibration_cut], rows.y[:calibration_cut])
    calibration_rows = ctr.TrainingRows(rows.X[calibration_cut:cut], rows.y[calibration_cut:cut])
    test = ctr.TrainingRows(rows.X[cut:], rows.y[cut:])

    started = time.perf_counter()
    trees = ctr.train(train, num_trees=args.trees)
    train_seconds = time.perf_counter() - started
    model = calibrate(trees, train, calibration_rows)
    prior = ctr.ConstantPredictor.fit(train).pctr
    attainable = AttainableOracle(truth, records[:cut])
    positions = test.X[:, POSITION].astype(int)
    predicted = model.predict_rows(test.X)
    reports = {
        "model": evaluation.evaluate(
            test.y, predicted, groups={"position": positions}, min_group_rows=1000
        ),
        "uncalibrated": evaluation.evaluate(test.y, trees.raw_rows(test.X)),
        "oracle": evaluation.evaluate(
            test.y, true_p[cut:], groups={"position": positions}, min_group_rows=1000
        ),
        "attainable": evaluation.evaluate(test.y, attainable.predict_records(records[cut:])),
        "prior": evaluation.evaluate(test.y, np.full(len(test), prior)),
    }
    print(
        f"held-out day: {len(test):,} impressions, {int(test.y.sum()):,} clicks; "
        f"trained on {len(train):,} ({args.trees} trees, {train_seconds:.1f} s), "
        f"calibrated on {len(calibration_rows):,}"
    )
    for name, report in reports.items():
        print(metrics_line(name, report))
    model_report, oracle = reports["model"], reports["oracle"]
    loss_gap = model_report["log_loss"] / oracle["log_loss"] - 1
    auc_gap = oracle["auc"] - model_report["auc"]
    by_position = model_report["by"]["position"]
    worst = max(by_position.values(), key=lambda v: abs(v["calibration_ratio"] - 1))
    position_ok = all(0.95 <= v["calibration_ratio"] <= 1.05 for v in by_position.values())
    for name in ("model", "oracle"):
        print(
            f"  calibration by position, {name}: "
            + ", ".join(
                f"{p}: {v['calibration_ratio']:.3f}"
                for p, v in reports[name]["by"]["position"].items()
            )
        )
    print(
        "  (each position holds about 1/16 of the clicks, so sampling noise alone moves a "
        "ratio by several percent: compare with the oracle's)"
    )
    expected = true_p[cut:]
    print(
        "  calibration by position, model, against expected clicks (sum of true p, no "
        "sampling noise): "
        + ", ".join(
            f"{p}: {predicted[positions == p].sum() / expected[positions == p].sum():.3f}"
            for p in np.unique(positions)
        )
    )
    sampled_slope, slope_error = sampled_position_slope(
        true_p[:calibration_cut], train.X[:, POSITION], train.y
    )
    print(
        f"  position effect: {model.position_effect.slope:+.4f} log-odds per slot, fitted on "
        f"{int(train.y.sum()):,} training clicks (the simulator's: "
        f"{simulator.POSITION_SLOPE:+.4f}; those clicks with the oracle's other effects give "
        f"{sampled_slope:+.4f}, standard error {slope_error:.4f})"
    )
    for name, probabilities in (("model", predicted), ("oracle", expected)):
        scores = position_z_scores(test.y, probabilities, positions)
        print(
            f"  calibration by position, {name}, in standard errors of the clicks (|z| > 2 in "
            f"1 of 20 positions by chance): largest |z| {max(map(abs, scores.values())):.2f}, "
            f"{sum(abs(z) > 2 for z in scores.values())} of {len(scores)} beyond 2"
        )
    checks = [
        ("log loss within 3% of the oracle", f"{loss_gap:+.2%}", loss_gap <= 0.03),
        ("AUC within 0.02 of the oracle", f"{auc_gap:+.4f}", auc_gap <= 0.02),
        (
            "calibration ratio overall in [0.95, 1.05]",
            f"{model_report['calibration_ratio']:.4f}",
            0.95 <= model_report["calibration_ratio"] <= 1.05,
        ),
        (
            "calibration ratio per position (>=1000 imps) in [0.95, 1.05]",
            f"worst {worst['calibration_ratio']:.4f}",
            position_ok,
        ),
    ]

    pages = feed_pages(users, args.pages, held_out_start, 24 * 3600, random.Random(seed))
    # What serving would know at the start of the held-out day: the training days' counts.
    recorder = HistoryRecorder()
    for record in records[:cut]:
        recorder.observe(record.ad_group, record.clicked)
    history = recorder.history()
    shop = Market(market, engine.AuctionConfig.prior_ctr, history)
    reserves = ReservePrices(100_000, 10_000)
    replays = {
        name: expected_revenue(pages, shop, predictor, truth, reserves, history)
        for name, predictor in (
            ("model", model),
            ("oracle", OraclePredictor(truth)),
            ("attainable", attainable),
            ("prior", ctr.ConstantPredictor(prior, version="prior")),
        )
    }
    revenue = {name: replay.revenue for name, replay in replays.items()}
    print(
        f"expected revenue over {args.pages:,} held-out pages (USD per 1000 pages), and the "
        "value of the ads shown to their advertisers (bid x true chance of the event):"
    )
    for name, replay in replays.items():
        print(
            f"  {name:10s} {replay.revenue / args.pages * 1000 / 1e6:10.2f}  "
            f"({replay.revenue / revenue['oracle']:.1%} of oracle)  value "
            f"{replay.value / args.pages * 1000 / 1e6:10.2f}  "
            f"({replay.value / replays['oracle'].value:.1%} of oracle)"
        )
    kept = revenue["model"] / revenue["oracle"]
    checks.append(("revenue with the model >= 95% of the oracle's", f"{kept:.1%}", kept >= 0.95))
    checks.append(
        (
            "revenue with the model above the prior's",
            f"prior {revenue['prior'] / revenue['oracle']:.1%}",
            revenue["model"] > revenue["prior"],
        )
    )

    if args.train_1m:
        million = simulator.training_rows(
            simulate_days(users, market, 4, 250_000, first_day_end, truth, seed)
        )
        started = time.perf_counter()
        ctr.train(million, num_trees=args.trees)
        seconds = time.perf_counter() - started
        checks.append(
            (f"train 1M rows, {args.trees} trees, <= 60 s", f"{seconds:.1f} s", seconds <= 60)
        )

    candidates = test.X[:50]
    for name, score in (
        ("LightGBM predict", trees.raw_rows),
        ("+ calibration and position effect", model.predict_rows),
    ):
        for _ in range(50):
            score(candidates)
        rounds = []
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(200):
                score(candidates)
            rounds.append((time.perf_counter() - started) / 200)
        # The best round is the cost; the median shows how much a busy machine adds.
        best, median = min(rounds), statistics.median(rounds)
        print(
            f"scoring 50 candidates, {name}: {best * 1e6:.0f} us ({best / 50 * 1e6:.1f} us "
            f"each; median of 7 rounds {median * 1e6:.0f} us)"
        )

    cold_start(
        users, market, model, truth, reserves, history, held_out_start, args.hour_pages, seed
    )

    print("targets:")
    for name, value, passed in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {value}")


if __name__ == "__main__":
    main()

"""The auction's fast paths give exactly what the plain code they replace gives.

Each fast path (the direct LightGBM call, the per-zone clock, the per-request tie breaker,
pricing that looks only at the best two allowed bids) is
checked against the slow path on many inputs, with exact equality.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from auction import ctr, features
from auction.eligibility import eligible, local_clock
from auction.engine import _tie_breaker, _tie_breakers
from auction.pricing import Slot, _ecpms, _price, _rank, _reserve, is_allowed, run_auction
from auction.types import CPC, CPM, Bid, Budget, FeedItem, ReservePrices, Spend
from tests.auction.test_eligibility import make_ad_group

RNG = np.random.default_rng(11)


def _rows(count: int) -> np.ndarray:
    rows = RNG.normal(size=(count, len(features.FEATURE_NAMES))) * 3
    categorical = [features.FEATURE_NAMES.index(name) for name in features.CATEGORICAL_FEATURES]
    rows[:, categorical] = RNG.integers(-1, 8, size=(count, len(categorical)))
    rows[RNG.random(rows.shape) < 0.05] = np.nan  # missing values take their own branch
    return rows


@pytest.fixture(scope="module")
def model() -> ctr.LightGBMPredictor:
    rows = _rows(3_000)
    logit = rows[:, 12] * 0.3 + rows[:, 3] * 0.5 - 3
    labels = (RNG.random(len(rows)) < 1 / (1 + np.exp(-np.nan_to_num(logit)))).astype(float)
    return ctr.train(ctr.TrainingRows(rows, labels), num_trees=40)


@pytest.mark.parametrize("count", [1, 2, 17, 50, 333])
def test_direct_lightgbm_call_scores_exactly_as_booster_predict(model, count):
    rows = _rows(count)
    expected = model.booster.predict(rows, num_threads=1)
    assert np.array_equal(model.raw_rows(rows), expected)


def test_other_layouts_and_dtypes_go_through_booster_predict(model):
    rows = _rows(40)
    for variant in (np.asfortranarray(rows), rows.astype(np.float32), rows[::2]):
        expected = model.booster.predict(variant, num_threads=1)
        assert np.array_equal(model.raw_rows(variant), expected)


def test_a_lightgbm_without_the_expected_internals_scores_through_booster_predict(
    model, monkeypatch
):
    import types

    monkeypatch.setattr(ctr, "lightgbm", types.SimpleNamespace(basic=types.SimpleNamespace()))
    scorer = ctr._BoosterScorer(model.booster)
    assert not hasattr(scorer, "_call")
    rows = _rows(5)
    assert np.array_equal(scorer(rows), model.booster.predict(rows, num_threads=1))


def test_a_model_loaded_from_its_artifact_scores_as_booster_predict(model):
    loaded = ctr.LightGBMPredictor.from_artifact(model.to_artifact())
    rows = _rows(64)
    assert np.array_equal(loaded.raw_rows(rows), model.booster.predict(rows, num_threads=1))


ZONES = ("America/New_York", "Asia/Kolkata", "Europe/London", "Australia/Lord_Howe", "UTC")


def test_eligibility_with_a_per_zone_clock_matches_the_plain_rules():
    rng = random.Random(5)
    # Around both 2026 DST changes in New York and London, and ordinary days.
    moments = [datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 11, 1, 5, 0, tzinfo=UTC)]
    moments += [datetime(2026, 6, 3, tzinfo=UTC) + timedelta(minutes=rng.randrange(10_000))]
    checked = set()
    for _ in range(3_000):
        now = rng.choice(moments) + timedelta(minutes=rng.randrange(0, 300, 7))
        daily = rng.random() < 0.7
        ad_group = make_ad_group(
            timezone=rng.choice(ZONES),
            pacing=rng.choice(("STANDARD", "ACCELERATED")),
            campaign_budget=Budget("DAILY" if daily else "LIFETIME", 100_000_000),
            ad_group_budget=rng.choice((None, Budget("DAILY", 10_000_000))),
            dayparting=rng.choice(
                (None, frozenset(rng.sample(range(168), 80)), frozenset(range(168)))
            ),
        )
        spend = Spend(*(rng.choice((0, 1_000_000, 9_000_000, 60_000_000)) for _ in range(4)))
        arguments = dict(
            now=now, spend=spend, impressions_in_window=0, remaining_balance_micros=None
        )
        expected = eligible(ad_group, **arguments)
        assert eligible(ad_group, **arguments, clock=local_clock(ad_group, now)) == expected
        checked.add(expected)
    assert {None, "paced", "outside_daypart", "budget_exhausted"} <= checked


def test_per_request_tie_breakers_match_the_plain_hash():
    tie_breaker = _tie_breakers("req-42")
    for ad_group_id in ("adg-1", "adg-2", "", "ad", "äöü", "x" * 300):
        assert tie_breaker(ad_group_id) == _tie_breaker("req-42", ad_group_id)
    assert _tie_breakers("req-43")("adg-1") != tie_breaker("adg-1")


def _plain_run_auction(bids, slots, reserves):
    """run_auction as it was: every allowed bid of each slot listed."""
    bids = list(bids)
    ecpms = _ecpms(bids)
    remaining = _rank(bids, ecpms, reserves)
    placements, empty = [], 0
    for slot in slots:
        allowed = [bid for bid in remaining if is_allowed(bid, slot)]
        if not allowed:
            empty += 1
            continue
        winner = allowed[0]
        runner_up = ecpms[allowed[1].ad_group_id] if len(allowed) > 1 else 0
        placements.append(
            (
                winner.ad_group_id,
                slot.position - empty,
                ecpms[winner.ad_group_id],
                _price(winner, runner_up, _reserve(winner, reserves)),
            )
        )
        remaining = [bid for bid in remaining if bid.advertiser_id != winner.advertiser_id]
    return placements


def test_pricing_that_stops_at_two_allowed_bids_matches_listing_them_all():
    rng = random.Random(8)
    creators, categories = ["c1", "c2", "c3"], ["news", "games", None]
    reserves = ReservePrices(cpm_micros=500_000, cpc_micros=20_000)
    for _ in range(500):
        bids = [
            Bid(
                ad_group_id=f"adg-{i}",
                advertiser_id=f"adv-{rng.randrange(6)}",
                billing_event=rng.choice((CPM, CPC)),
                bid_micros=rng.randrange(1, 3_000_000),
                pctr=rng.choice((0.01, 0.02, 0.05)),
                excluded_creators=frozenset(rng.sample(creators, rng.randrange(2))),
                excluded_categories=frozenset(rng.sample(categories[:2], rng.randrange(2))),
                tie_breaker=rng.randrange(3),
            )
            for i in range(rng.randrange(0, 12))
        ]
        slots = [
            Slot(
                3 + 5 * k,
                tuple(
                    FeedItem(f"v{k}{j}", rng.choice(creators), rng.choice(categories))
                    for j in range(2)
                ),
            )
            for k in range(rng.randrange(1, 4))
        ]
        got = [
            (p.bid.ad_group_id, p.position, p.ecpm_micros, p.price_micros)
            for p in run_auction(bids, slots, reserves)
        ]
        assert got == _plain_run_auction(bids, slots, reserves)

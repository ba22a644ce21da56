"""The auction's fast paths give exactly what the plain code they replace gives.

Each fast path (the direct LightGBM call, the per-zone clock, the per-request tie breaker,
pricing that looks only at the best two allowed bids) is
checked against the slow path on many inputs, with exact equality.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from auction import ctr, features
from auction.eligibility import eligible, eligible_on_clock, local_clock
from auction.engine import _tie_breaker, _tie_breakers
from auction.history import EMPTY_HISTORY, Counts, CtrHistory
from auction.pricing import (
    Slot,
    _best_per_advertiser,
    _ecpms,
    _ecpms_at,
    _price,
    _ranked,
    _reserve,
    ecpm_micros,
    is_allowed,
    run_auction,
)
from auction.types import (
    CPC,
    CPM,
    Bid,
    Budget,
    FeedItem,
    ReservePrices,
    Spend,
    Targeting,
    User,
)
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
    """run_auction as it was: each advertiser's best bid allowed in each slot listed."""
    bids = list(bids)
    ecpms = _ecpms(bids)
    remaining = _ranked(bids, ecpms, reserves)
    placements, empty = [], 0
    for slot in slots:
        allowed = _best_per_advertiser([bid for bid in remaining if is_allowed(bid, slot)])
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


def _random_eligibility_case(rng: random.Random, moments: list[datetime]):
    now = rng.choice(moments) + timedelta(minutes=rng.randrange(0, 300, 7))
    modes = ("DAILY", "LIFETIME", "WEEKLY")  # an unknown mode must fail the same way
    amounts = (1, 47, 48, 10_000_000, 100_000_000)
    ad_group = make_ad_group(
        timezone=rng.choice(ZONES),
        pacing=rng.choice(("STANDARD", "ACCELERATED", "STANDARD", "ASAP")),
        campaign_start=now + timedelta(minutes=rng.choice((-600, -1, 0, 1))),
        campaign_end=rng.choice((None, now, now + timedelta(microseconds=1), now + _DAY)),
        campaign_budget=Budget(rng.choice(modes), rng.choice(amounts)),
        ad_group_budget=rng.choice((None, Budget(rng.choice(modes), rng.choice(amounts)))),
        frequency_cap=rng.choice((None, (1, 24), (3, 1))),
        dayparting=rng.choice((None, frozenset(rng.sample(range(168), 80)), frozenset())),
    )
    spend = Spend(*(rng.choice((0, 1, 47, 1_000_000, 9_000_000, 60_000_000)) for _ in range(4)))
    seen = rng.choice((0, 1, 2, 3, 5))
    balance = rng.choice((None, -5, 0, 1, 10**9))
    return ad_group, now, spend, seen, balance


_DAY = timedelta(days=1)


def _outcome(check, *args, **kwargs):
    try:
        return check(*args, **kwargs)
    except ValueError as error:
        return ("ValueError", str(error))


def test_the_fused_eligibility_check_matches_the_plain_rules():
    rng = random.Random(17)
    moments = [datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 11, 1, 5, 0, tzinfo=UTC)]
    moments += [datetime(2026, 6, 3, tzinfo=UTC) + timedelta(minutes=rng.randrange(10_000))]
    outcomes = []
    for _ in range(20_000):
        ad_group, now, spend, seen, balance = _random_eligibility_case(rng, moments)
        clock = local_clock(ad_group, now)
        expected = _outcome(
            eligible,
            ad_group,
            now=now,
            spend=spend,
            impressions_in_window=seen,
            remaining_balance_micros=balance,
        )
        assert _outcome(eligible_on_clock, ad_group, now, spend, seen, balance, clock) == (
            expected
        ), (ad_group, now, spend, seen, balance)
        outcomes.append(expected if not isinstance(expected, tuple) else expected[0])
    # Every reason, a pass, and both kinds of error were exercised.
    assert set(outcomes) == {
        None,
        "not_in_flight",
        "no_balance",
        "budget_exhausted",
        "frequency_capped",
        "outside_daypart",
        "paced",
        "ValueError",
    }


def _random_history(rng: random.Random, ad_groups) -> CtrHistory:
    return CtrHistory(
        {
            g.ad_group_id: Counts(n, rng.randrange(n + 1))
            for g in ad_groups
            if rng.random() < 0.7
            for n in [rng.choice((0, 1, 50, 3_000))]
        },
        {g.advertiser_id: Counts(10_000, 150) for g in ad_groups if rng.random() < 0.5},
        Counts(10**6, 21_000),
    )


def test_the_feature_matrix_is_vectorize_row_by_row_bit_for_bit():
    rng = random.Random(23)
    interests = ("sports", "music", "food", "travel", "gaming")
    for case in range(200):
        ad_groups = [
            make_ad_group(
                ad_group_id=f"adg-{case}-{i}",
                advertiser_id=f"adv-{rng.randrange(5)}",
                objective=rng.choice(("TRAFFIC", "VIDEO_VIEWS", "REACH", "AWARENESS", None)),
                billing_event=rng.choice((CPM, CPC)),
                bid_micros=rng.choice((-3, 0, 1, 123_457, 4_000_000, 10**12)),
                targeting=Targeting(interests=frozenset(rng.sample(interests, rng.randrange(4)))),
            )
            for i in range(rng.randrange(0, 60))
        ]
        user = User(
            id="u",
            country=rng.choice((None, "us", "DE")),
            language=rng.choice((None, "en")),
            age_group=rng.choice((None, "18-24", "99")),
            gender=rng.choice((None, "female", "x")),
            os=rng.choice((None, "ios", "android")),
            interests=frozenset(rng.sample(interests, rng.randrange(4))),
        )
        now = datetime(2026, 11, 28, tzinfo=UTC) + timedelta(minutes=rng.randrange(20_000))
        positions = [rng.randrange(20) for _ in ad_groups]
        history = rng.choice((EMPTY_HISTORY, _random_history(rng, ad_groups)))
        rows = features.matrix(user, ad_groups, positions, now, history)
        assert rows.dtype == np.float64
        assert rows.shape == (len(ad_groups), len(features.FEATURE_NAMES))
        expected = [
            features.vectorize(user, g, p, now, history)
            for g, p in zip(ad_groups, positions, strict=True)
        ]
        # Bit for bit: compare the float64 bytes, not values within a tolerance.
        assert rows.tobytes() == np.array(expected, dtype=np.float64).reshape(rows.shape).tobytes()


def _plain_ecpms(bids):
    return {bid.ad_group_id: ecpm_micros(bid) for bid in bids}


# pCTRs at the edges of the rounding to parts per billion, outside (0, 1], and not floats.
EDGE_PCTRS = (1e-9, 4e-10, 5e-10, 6e-10, 0.0123456789, 0.5, 1.0, 0.0, -0.1, 1.5, float("nan"))


def _random_pctr(rng):
    return rng.choice((*EDGE_PCTRS, rng.random(), rng.random(), 1, True))


def _random_bids(rng, case, events, micros, pctr):
    return [
        Bid(
            ad_group_id=f"adg-{case}-{i}",
            advertiser_id="adv",
            billing_event=rng.choice(events),
            bid_micros=rng.choice(micros),
            pctr=pctr(),
        )
        for i in range(rng.choice((1, 2, 5)))
    ]


def test_the_fused_ecpms_match_ecpm_micros_bid_by_bid_errors_included():
    rng = random.Random(29)
    outcomes = set()
    for case in range(3_000):
        bids = _random_bids(
            rng,
            case,
            (CPM, CPC, CPC, "CPA"),
            (1, 999, 1_234_567, 10**13, 0, -5, True, 2.0),
            lambda: _random_pctr(rng),
        )
        expected = _outcome(_plain_ecpms, bids)
        assert _outcome(_ecpms, bids) == expected, bids
        outcomes.add(type(expected))
    assert outcomes == {dict, tuple}  # results and errors both exercised


def test_the_later_slots_ecpms_match_ecpm_micros_at_those_pctrs_errors_included():
    """``_ecpms_at`` (a later slot: the bids were checked at the first) against
    ``ecpm_micros`` of each bid at the slot's pCTR."""
    rng = random.Random(31)
    outcomes = set()
    for case in range(3_000):
        bids = _random_bids(
            rng, case, (CPM, CPC, CPC), (1, 999, 1_234_567, 10**13), lambda: rng.random() or 0.5
        )
        at_slot = [_random_pctr(rng) for _ in bids]
        if rng.random() < 0.05:
            at_slot.pop()  # one pCTR short

        def plain(bids, at_slot=at_slot):
            if len(at_slot) != len(bids):
                raise ValueError(f"{len(bids)} bids but {len(at_slot)} pCTRs")
            return _plain_ecpms(
                [replace(bid, pctr=pctr) for bid, pctr in zip(bids, at_slot, strict=True)]
            )

        expected = _outcome(plain, bids)
        assert _outcome(_ecpms_at, bids, at_slot) == expected, at_slot
        outcomes.add(type(expected))
    assert outcomes == {dict, tuple}

"""Splitting a creator-fund pool: hand-computed cases, and properties that must hold for any
pool, weights and cap (hypothesis)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.fund_allocation import (
    Settlement,
    allocate,
    clawback,
    exact_share,
    settle,
    water_level,
)

CENT = 10_000  # USD's step in micros
YEN = 1_000_000


def micros(allocation) -> dict[str, int]:
    return {c: share.micros for c, share in allocation.shares.items()}


# --- hand-computed cases ----------------------------------------------------------------------


def test_three_equal_weights_split_ten_dollars_with_the_odd_cent_to_the_smallest_id():
    split = allocate(10_000_000, {"c": 1, "a": 1, "b": 1}, CENT)
    assert micros(split) == {"a": 3_340_000, "b": 3_330_000, "c": 3_330_000}
    assert split.shares["a"].exact == Fraction(10_000_000, 3)
    assert split.undistributed_micros == 0


def test_ties_in_remainder_go_to_the_heavier_weight_before_the_id():
    # 1.00 USD by 1:2:4 → exact 14.2857, 28.5714, 57.1428 cents: the floors leave one cent
    # over, for the largest remainder (b's .5714).
    assert micros(allocate(1_000_000, {"a": 1, "b": 2, "c": 4}, CENT)) == {
        "a": 140_000,
        "b": 290_000,
        "c": 570_000,
    }
    # Whole cents leave nothing to break: 4 cents by 1:1:2.
    assert micros(allocate(40_000, {"a": 1, "b": 1, "c": 2}, CENT)) == {
        "a": 10_000,
        "b": 10_000,
        "c": 20_000,
    }
    # .75 and 2.25 cents: the larger remainder (a's) wins, whatever the weights.
    assert micros(allocate(30_000, {"a": 1, "b": 3}, CENT)) == {"a": 10_000, "b": 20_000}
    # .5 and 1.5 cents, equal remainders: the heavier wins the cent, even with the larger id.
    assert micros(allocate(20_000, {"a": 1, "b": 3}, CENT)) == {"a": 0, "b": 20_000}
    assert micros(allocate(20_000, {"z": 3, "a": 1}, CENT)) == {"a": 0, "z": 20_000}
    # Equal remainders and equal weights: the smaller id wins.
    assert micros(allocate(10_000, {"y": 1, "x": 1}, CENT)) == {"x": 10_000, "y": 0}


def test_a_binding_cap_redistributes_the_excess_to_the_others():
    split = allocate(100_000_000, {"big": 8, "b": 1, "c": 1}, CENT, cap=40_000_000)
    assert micros(split) == {"big": 40_000_000, "b": 30_000_000, "c": 30_000_000}
    assert split.shares["big"].capped and not split.shares["b"].capped
    assert split.rate == Fraction(30_000_000)  # per unit of weight below the cap


def test_capping_one_creator_can_push_another_over_the_cap():
    # Cap 40 of 100 USD by 10:8:2. At 5 USD per weight only "a" is over (50); once "a" is
    # held at 40, the other 60 go 8:2 at 6 USD per weight, which puts "b" (48) over as well,
    # though it was under (40) at the first rate. "c" gets the remaining 20.
    split = allocate(100_000_000, {"a": 10, "b": 8, "c": 2}, CENT, cap=40_000_000)
    assert micros(split) == {"a": 40_000_000, "b": 40_000_000, "c": 20_000_000}
    assert [split.shares[c].capped for c in "abc"] == [True, True, False]
    assert split.rate == Fraction(10_000_000)
    assert split.undistributed_micros == 0


def test_caps_bind_in_cascade():
    # Cap 50: at the first rate (100/111 per weight) "a" is over; the other 50 go 10:1, and
    # c's remainder (.5455 cent) beats b's (.4545) for the last cent.
    split = allocate(100_000_000, {"a": 100, "b": 10, "c": 1}, CENT, cap=50_000_000)
    assert micros(split) == {"a": 50_000_000, "b": 45_450_000, "c": 4_550_000}
    # Cap 30: capping "a" lifts the rate to 70/11 per weight, which puts "b" over too, and
    # then "c": everyone is held at the cap and 10 USD are left undistributed.
    cascade = allocate(100_000_000, {"a": 100, "b": 10, "c": 1}, CENT, cap=30_000_000)
    assert micros(cascade) == {"a": 30_000_000, "b": 30_000_000, "c": 30_000_000}
    assert cascade.undistributed_micros == 10_000_000


def test_nobody_to_pay_leaves_the_pool_undistributed():
    split = allocate(5_000_000, {}, CENT)
    assert split.shares == {} and split.undistributed_micros == 5_000_000
    assert split.distributed_micros == 0
    nothing = allocate(0, {"a": 3, "b": 1}, CENT, cap=CENT)
    assert micros(nothing) == {"a": 0, "b": 0}
    assert nothing.undistributed_micros == 0 and nothing.rate == 0
    assert not any(share.capped for share in nothing.shares.values())


def test_yen_are_whole():
    split = allocate(1_000 * YEN, {"a": 1, "b": 2}, YEN)
    assert micros(split) == {"a": 333 * YEN, "b": 667 * YEN}
    # 10 yen three ways: the odd yen to the smallest id, never a fraction of a yen.
    assert micros(allocate(10 * YEN, {"c": 5, "b": 5, "a": 5}, YEN)) == {
        "a": 4 * YEN,
        "b": 3 * YEN,
        "c": 3 * YEN,
    }
    capped = allocate(100 * YEN, {"a": 9, "b": 1}, YEN, cap=60 * YEN)
    assert micros(capped) == {"a": 60 * YEN, "b": 40 * YEN}


@pytest.mark.parametrize(
    "pool, weights, cap",
    [
        (10_005_000, {"a": 1}, None),  # half a cent
        (-CENT, {"a": 1}, None),
        (CENT, {"a": 0}, None),
        (CENT, {"a": -1}, None),
        (CENT, {"a": 1.5}, None),
        (CENT, {"a": 1}, 15_000),  # a cap of 1.5 cents
        (CENT, {"a": 1}, 0),
        (CENT, {"a": 1}, -CENT),
        (CENT, {"a": 1, "b": 0}, None),  # one bad weight among good ones
        (CENT, {"a": True}, None),  # a bool is not a weight
    ],
)
def test_impossible_input_is_refused(pool, weights, cap):
    with pytest.raises(ValueError):
        allocate(pool, weights, CENT, cap)


# --- properties ---------------------------------------------------------------------------------

creator_ids = st.text(alphabet="abcdefghij0123456789_", min_size=1, max_size=8)
weights_strategy = st.dictionaries(
    creator_ids,
    st.one_of(
        st.integers(1, 10),
        st.integers(1, 10**6),
        st.integers(10**9, 10**12),
        st.integers(10**15, 10**18),
    ),
    max_size=40,
)
steps = st.sampled_from([CENT, YEN, 1])


@st.composite
def splits(draw):
    step = draw(steps)
    pool = draw(st.integers(0, 10**7)) * step
    weights = draw(weights_strategy)
    cap = draw(st.none() | st.integers(1, 10**6).map(lambda units: units * step))
    return pool, weights, step, cap


@st.composite
def binding_splits(draw):
    """Caps around the fair share (pool / number of creators), so that some, several or all
    creators are held at the cap; splits() alone rarely caps some but not all."""
    step = draw(steps)
    weights = draw(weights_strategy.filter(lambda w: len(w) >= 2))
    pool_units = draw(st.integers(1, 10**7))
    fair = -(-pool_units // len(weights))
    cap_units = draw(st.integers(max(1, fair // 2), 3 * fair))
    return pool_units * step, weights, step, cap_units * step


any_splits = st.one_of(splits(), binding_splits())


@settings(max_examples=400, deadline=None)
@given(any_splits)
def test_shares_add_up_and_stay_within_one_step_of_exact(case):
    pool, weights, step, cap = case
    split = allocate(pool, weights, step, cap)
    shares = split.shares.values()
    assert sum(s.micros for s in shares) == pool - split.undistributed_micros
    everyone_capped = bool(weights) and all(s.capped for s in shares)
    if weights and not everyone_capped:
        assert split.undistributed_micros == 0
    if split.undistributed_micros:
        assert not weights or everyone_capped
    for share in shares:
        assert share.micros % step == 0
        assert abs(share.micros - share.exact) < step
        assert share.micros >= 0
        if cap is not None:
            assert share.micros <= cap and share.exact <= cap


@settings(max_examples=300, deadline=None)
@given(any_splits)
def test_the_water_level_is_right(case):
    pool, weights, step, cap = case
    split = allocate(pool, weights, step, cap)
    everyone_capped = bool(weights) and all(s.capped for s in split.shares.values())
    if weights and not everyone_capped:
        assert sum(s.exact for s in split.shares.values()) == pool  # no exact micro lost
    for creator_id, share in split.shares.items():
        if share.capped:
            assert share.exact == cap and share.micros == cap
            assert weights[creator_id] * split.rate >= cap
        else:
            assert share.exact == weights[creator_id] * split.rate
            assert cap is None or share.exact <= cap
        assert share.exact == exact_share(weights[creator_id], split.rate, cap)
    # Heavier never gets less: not exactly, and not after rounding either.
    ordered = sorted(split.shares.values(), key=lambda s: s.weight)
    for lighter, heavier in zip(ordered, ordered[1:], strict=False):
        assert lighter.exact <= heavier.exact
        if lighter.weight < heavier.weight:  # equal weights may differ by the tie-break step
            assert lighter.micros <= heavier.micros
            if not heavier.capped and split.rate:
                assert lighter.exact < heavier.exact


@settings(max_examples=300, deadline=None)
@given(any_splits)
def test_the_extra_steps_go_to_the_largest_remainders(case):
    """Largest remainder: whoever was rounded up has a larger remainder than whoever was
    rounded down, and on equal remainders is heavier, or as heavy with a smaller id."""
    pool, weights, step, cap = case
    split = allocate(pool, weights, step, cap)

    def rank(share):
        return (-(share.exact % step), -share.weight, share.creator_id)

    up = [s for s in split.shares.values() if s.micros > s.exact]
    down = [s for s in split.shares.values() if s.micros < s.exact]
    assert all(s.micros - s.exact < step for s in up)
    if up and down:
        assert max(rank(s) for s in up) < min(rank(s) for s in down)


@settings(max_examples=200, deadline=None)
@given(any_splits, st.randoms(use_true_random=False))
def test_deterministic_and_blind_to_input_order(case, rng: random.Random):
    pool, weights, step, cap = case
    first = allocate(pool, weights, step, cap)
    items = list(weights.items())
    rng.shuffle(items)
    shuffled = allocate(pool, dict(items), step, cap)
    assert micros(first) == micros(shuffled) == micros(allocate(pool, weights, step, cap))
    assert first.rate == shuffled.rate


@given(st.data())
def test_settle_pays_at_the_minimum_and_carries_below_it(data):
    minimum = data.draw(st.integers(0, 100)) * CENT
    share = data.draw(st.integers(0, 10**6)) * CENT
    carried = data.draw(st.integers(-(10**5), 10**5)) * CENT
    taken = data.draw(st.integers(0, 10**5)) * CENT
    settled = settle(share, carried, taken, minimum)
    balance = carried + share - taken
    assert settled.balance_micros == balance
    assert settled.payable_micros + settled.carried_micros == balance
    assert settled.payable_micros >= 0
    if balance >= minimum and balance > 0:
        assert (settled.payable_micros, settled.carried_micros) == (balance, 0)
    else:
        assert (settled.payable_micros, settled.carried_micros) == (0, balance)


def test_settle_by_hand():
    assert settle(6_000_000, 0, 0, 10_000_000).carried_micros == 6_000_000
    assert settle(6_000_000, 6_000_000, 0, 10_000_000).payable_micros == 12_000_000
    assert settle(1_000_000, 0, 5_000_000, 10_000_000).carried_micros == -4_000_000
    assert settle(0, 0, 0, 0).payable_micros == 0
    # Exactly the minimum is paid, a cent less is carried.
    assert settle(4_000_000, 6_000_000, 0, 10_000_000) == Settlement(10_000_000, 10_000_000, 0)
    assert settle(4_000_000, 5_990_000, 0, 10_000_000) == Settlement(9_990_000, 0, 9_990_000)
    # A clawback larger than the share and the carry-over: the debt is carried, nothing paid.
    assert settle(2_000_000, 1_000_000, 5_000_000, 0) == Settlement(-2_000_000, 0, -2_000_000)
    # ... and the next run's share pays it off first.
    assert settle(13_000_000, -2_000_000, 0, 10_000_000) == Settlement(11_000_000, 11_000_000, 0)


# --- clawbacks ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(any_splits)
def test_no_clawback_while_the_weight_is_unchanged(case):
    pool, weights, step, cap = case
    split = allocate(pool, weights, step, cap)
    for creator_id, share in split.shares.items():
        assert clawback(share.micros, weights[creator_id], split.rate, cap, step, 0) == 0


@settings(max_examples=300, deadline=None)
@given(any_splits, st.data())
def test_a_clawback_never_takes_more_than_was_paid_for_the_views_lost(case, data):
    pool, weights, step, cap = case
    split = allocate(pool, weights, step, cap)
    for creator_id, share in split.shares.items():
        lower = data.draw(st.integers(0, weights[creator_id]))
        already = data.draw(st.integers(0, share.micros // step)) * step
        taken = clawback(share.micros, lower, split.rate, cap, step, already)
        assert 0 <= taken <= max(share.micros - already, 0)
        assert taken % step == 0
        # What the creator keeps is at least the exact share the remaining views earn.
        if taken:
            assert share.micros - already - taken >= exact_share(lower, split.rate, cap)
        # Exactly: the paid share minus the new exact share rounded up to a step, minus what
        # was already taken back.
        deserved = min(lower * split.rate, cap) if cap is not None else lower * split.rate
        kept = -(-deserved // step) * step
        assert taken == max(share.micros - kept - already, 0)
        if lower == weights[creator_id]:
            assert taken == 0


def test_clawbacks_by_hand():
    split = allocate(100_000_000, {"a": 3_000, "b": 1_000}, CENT)
    assert split.shares["a"].micros == 75_000_000
    # A third of a's views were invalid: 2,000 views earn 50 USD at 25,000 micros per view.
    assert clawback(75_000_000, 2_000, split.rate, None, CENT, 0) == 25_000_000
    assert clawback(75_000_000, 2_000, split.rate, None, CENT, 25_000_000) == 0
    assert clawback(75_000_000, 0, split.rate, None, CENT, 0) == 75_000_000
    # Rounded in the creator's favour: 1,999.9 views' worth keeps the cent above.
    thirds = allocate(10_000_000, {"a": 1, "b": 1, "c": 1}, CENT)
    assert thirds.shares["b"].micros == 3_330_000
    assert clawback(3_330_000, 1, thirds.rate, None, CENT, 0) == 0
    # Unchanged weight, whether the share was rounded down or got the extra cent.
    assert thirds.shares["a"].micros == 3_340_000
    for creator_id in "abc":
        assert clawback(thirds.shares[creator_id].micros, 1, thirds.rate, None, CENT, 0) == 0
    # Weight 3 of 4 on 10.00 USD: 7.50 paid; down to 2 of the 4 earns 5.00.
    quarters = allocate(10_000_000, {"a": 3, "b": 1}, CENT)
    assert clawback(7_500_000, 2, quarters.rate, None, CENT, 0) == 2_500_000
    # Already clawed in part, then in full; never more than what was paid.
    assert clawback(7_500_000, 2, quarters.rate, None, CENT, 1_000_000) == 1_500_000
    assert clawback(7_500_000, 2, quarters.rate, None, CENT, 2_500_000) == 0
    assert clawback(7_500_000, 0, quarters.rate, None, CENT, 7_500_000) == 0
    assert clawback(7_500_000, 0, quarters.rate, None, CENT, 9_000_000) == 0
    # Yen: 1 of 3 views left of 667 yen paid keeps ceil(333.33) = 334 yen.
    yen = allocate(1_000 * YEN, {"a": 1, "b": 2}, YEN)
    assert clawback(667 * YEN, 1, yen.rate, None, YEN, 0) == 333 * YEN


def test_a_capped_creator_who_stays_over_the_cap_loses_nothing():
    split = allocate(100_000_000, {"big": 8, "b": 1, "c": 1}, CENT, cap=40_000_000)
    assert clawback(40_000_000, 5, split.rate, 40_000_000, CENT, 0) == 0  # 5 × 30 USD > cap
    assert clawback(40_000_000, 1, split.rate, 40_000_000, CENT, 0) == 10_000_000
    everyone = allocate(100_000_000, {"a": 100, "b": 10, "c": 1}, CENT, cap=30_000_000)
    level, capped = water_level(100_000_000, {"a": 100, "b": 10, "c": 1}, 30_000_000)
    assert capped == {"a", "b", "c"} and level == everyone.rate
    assert clawback(30_000_000, 1, everyone.rate, 30_000_000, CENT, 0) == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(creator_ids, min_size=2, max_size=30, unique=True),
    st.integers(1, 10**4),
    st.randoms(use_true_random=False),
)
def test_ties_are_broken_the_same_way_in_any_order(ids, cents, rng: random.Random):
    """Equal weights leave equal remainders: only the tie-break decides who gets a cent."""
    weights = {creator_id: 7 for creator_id in ids}
    first = allocate(cents * CENT, weights, CENT)
    shuffled_ids = list(ids)
    rng.shuffle(shuffled_ids)
    again = allocate(cents * CENT, {creator_id: 7 for creator_id in shuffled_ids}, CENT)
    assert micros(first) == micros(again)
    extra = sorted(
        c for c, share in first.shares.items() if share.micros > min(micros(first).values())
    )
    assert extra == sorted(ids)[: len(extra)]  # the smallest ids get the odd cents

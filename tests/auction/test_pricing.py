"""Ranking and GSP pricing, checked against prices worked out by hand.

Reserves everywhere unless said otherwise: $1.00 per 1000 impressions, $0.10 per click.
pCTR 0.01 is 10_000_000 ppb, so a CPC bid's eCPM is bid * 10_000_000 * 1000 // 1e9 = bid * 10.
"""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import permutations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auction.pricing import (
    Slot,
    ecpm_micros,
    is_allowed,
    pctr_ppb,
    price_micros,
    rank,
    run_auction,
)
from auction.types import CPC, CPM, Bid, FeedItem, Placement, ReservePrices

RESERVES = ReservePrices(cpm_micros=1_000_000, cpc_micros=100_000)
CLEAN = FeedItem(video_id="v_clean", creator_id="c_clean", category="comedy")
RISKY = FeedItem(video_id="v_risky", creator_id="c_risky", category="news")


def cpm(ad_group_id: str, bid_micros: int, advertiser_id: str | None = None, **kw) -> Bid:
    return Bid(ad_group_id, advertiser_id or f"adv_{ad_group_id}", CPM, bid_micros, 0.01, **kw)


def cpc(ad_group_id: str, bid_micros: int, pctr: float, advertiser_id: str | None = None, **kw):
    return Bid(ad_group_id, advertiser_id or f"adv_{ad_group_id}", CPC, bid_micros, pctr, **kw)


def slot(position: int, *neighbours: FeedItem) -> Slot:
    return Slot(position=position, neighbours=neighbours or (CLEAN,))


def summary(placements: list[Placement]) -> list[tuple[str, int, int, int]]:
    return [(p.bid.ad_group_id, p.position, p.ecpm_micros, p.price_micros) for p in placements]


# --- pCTR and eCPM -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pctr", "expected"),
    [
        (0.02, 20_000_000),  # 0.02 * 1e9
        (1.0, 1_000_000_000),
        (0.0123456789, 12_345_679),  # 12_345_678.9 rounds up
        (0.0000000004, 1),  # 0.4 ppb rounds to 0, floored at 1
        (1e-300, 1),
    ],
)
def test_pctr_in_parts_per_billion(pctr, expected):
    assert pctr_ppb(pctr) == expected


@pytest.mark.parametrize("pctr", [0.0, -0.1, 1.0000001, math.nan, math.inf, True])
def test_pctr_outside_zero_one_is_refused(pctr):
    with pytest.raises(ValueError):
        pctr_ppb(pctr)


def test_cpm_ecpm_is_the_bid():
    assert ecpm_micros(cpm("a", 2_500_000)) == 2_500_000


def test_cpc_ecpm_is_bid_times_pctr_times_1000():
    # $0.50 a click at 2%: 500_000 * 20_000_000 * 1000 // 1e9 = 10_000_000 ($10 CPM)
    assert ecpm_micros(cpc("a", 500_000, 0.02)) == 10_000_000


def test_cpc_ecpm_rounds_down():
    # 333_333 * 1_500_000 * 1000 / 1e9 = 499_999.5 -> 499_999
    assert ecpm_micros(cpc("a", 333_333, 0.0015)) == 499_999


@pytest.mark.parametrize(
    "bid",
    [
        cpm("a", 0),
        cpm("a", -5),
        cpm("a", 1.5),  # money is whole micros
        cpc("a", 100_000, 0.0),
        cpc("a", 100_000, 1.5),
        Bid("a", "adv", "CPA", 100_000, 0.01),
    ],
)
def test_nonsense_bids_are_refused(bid):
    with pytest.raises(ValueError):
        ecpm_micros(bid)
    with pytest.raises(ValueError):
        run_auction([bid], [slot(0)], RESERVES)


def test_one_ad_group_bidding_twice_is_refused():
    with pytest.raises(ValueError):
        rank([cpm("a", 2_000_000), cpm("a", 3_000_000)], RESERVES)


def test_negative_reserves_are_refused():
    with pytest.raises(ValueError):
        rank([cpm("a", 2_000_000)], ReservePrices(cpm_micros=-1, cpc_micros=0))


# --- price_micros --------------------------------------------------------------------------


def test_cpm_pays_the_next_ecpm():
    # next 1_500_000 is above the 1_000_000 reserve and below the 3_000_000 bid
    assert price_micros(cpm("a", 3_000_000), 1_500_000, RESERVES) == 1_500_000


def test_cpm_pays_at_least_the_reserve():
    # next 400_000 < reserve 1_000_000
    assert price_micros(cpm("a", 3_000_000), 400_000, RESERVES) == 1_000_000


def test_cpc_pays_the_next_ecpm_translated_to_a_click_price():
    # ppb 20_000_000: 7_000_000 * 1e9 / (20_000_000 * 1000) = 350_000 exactly;
    # check: 350_000 * 20_000_000 * 1000 // 1e9 = 7_000_000
    assert price_micros(cpc("a", 500_000, 0.02), 7_000_000, RESERVES) == 350_000


def test_cpc_price_rounds_up_to_keep_the_rank():
    # 7_000_001 / 20 = 350_000.05 -> 350_001 (350_000 gives eCPM 7_000_000, one short)
    assert price_micros(cpc("a", 500_000, 0.02), 7_000_001, RESERVES) == 350_001
    # ppb 3_000_000: 1_000_000 * 1e9 / 3e9 = 333_333.3 -> 333_334
    # (333_333 * 3 = 999_999 < 1_000_000 <= 333_334 * 3 = 1_000_002)
    assert price_micros(cpc("a", 500_000, 0.003), 1_000_000, RESERVES) == 333_334


def test_cpc_pays_at_least_the_click_reserve():
    # 1_000_000 / 20 = 50_000 per click < reserve 100_000
    assert price_micros(cpc("a", 500_000, 0.02), 1_000_000, RESERVES) == 100_000


def test_no_competitor_pays_the_reserve():
    assert price_micros(cpm("a", 3_000_000), 0, RESERVES) == 1_000_000
    assert price_micros(cpc("a", 250_000, 0.05), 0, RESERVES) == 100_000


def test_price_never_exceeds_the_bid():
    # CPM: next 2_500_000 > bid 2_000_000
    assert price_micros(cpm("a", 2_000_000), 2_500_000, RESERVES) == 2_000_000
    # CPC: 5_000_000 / 20 = 250_000 per click > bid 200_000
    assert price_micros(cpc("a", 200_000, 0.02), 5_000_000, RESERVES) == 200_000


def test_pricing_a_bid_below_its_reserve_is_refused():
    with pytest.raises(ValueError):
        price_micros(cpm("a", 900_000), 0, RESERVES)
    with pytest.raises(ValueError):
        price_micros(cpm("a", 2_000_000), -1, RESERVES)


# --- rank ----------------------------------------------------------------------------------


def test_bids_below_their_own_reserve_are_dropped():
    bids = [
        cpm("cpm_low", 999_999),  # < 1_000_000
        cpm("cpm_at", 1_000_000),  # = reserve: serves
        # 90_000 < 100_000 per click: dropped although its eCPM is 90_000 * 1000 = 90_000_000
        cpc("cpc_low", 90_000, 1.0),
        cpc("cpc_at", 100_000, 0.01),  # eCPM 100_000 * 10 = 1_000_000
    ]
    # cpm_at and cpc_at tie at 1_000_000 and tie_breaker 0: ad_group_id ascending
    assert [bid.ad_group_id for bid in rank(bids, RESERVES)] == ["cpc_at", "cpm_at"]


def test_rank_sorts_by_ecpm_mixing_cpm_and_cpc():
    bids = [
        cpm("m2", 2_000_000),  # 2_000_000
        cpc("c3", 300_000, 0.01),  # 300_000 * 10 = 3_000_000
        cpm("m4", 4_000_000),  # 4_000_000
        cpc("c15", 150_000, 0.01),  # 150_000 * 10 = 1_500_000
    ]
    assert [bid.ad_group_id for bid in rank(bids, RESERVES)] == ["m4", "c3", "m2", "c15"]


def test_rank_keeps_the_best_bid_of_each_advertiser():
    bids = [
        cpm("a_cpm", 5_000_000, advertiser_id="A"),  # 5_000_000
        cpc("a_cpc", 200_000, 0.05, advertiser_id="A"),  # 200_000 * 50 = 10_000_000
        cpm("b", 3_000_000, advertiser_id="B"),
    ]
    assert [bid.ad_group_id for bid in rank(bids, RESERVES)] == ["a_cpc", "b"]


def test_an_advertisers_bid_below_reserve_does_not_hide_its_other_bid():
    bids = [
        cpc("a_low", 90_000, 1.0, advertiser_id="A"),  # eCPM 90_000_000 but below 100_000/click
        cpm("a_ok", 2_000_000, advertiser_id="A"),
    ]
    assert [bid.ad_group_id for bid in rank(bids, RESERVES)] == ["a_ok"]


# --- one slot ------------------------------------------------------------------------------


def test_one_slot_cpm_winner_pays_the_runner_up_ecpm():
    bids = [
        cpm("a", 4_000_000),
        cpc("b", 300_000, 0.01),  # 300_000 * 10 = 3_000_000
        cpm("c", 2_000_000),
    ]
    # a (4_000_000) beats b (3_000_000) and pays b's eCPM: 3_000_000 per 1000
    assert summary(run_auction(bids, [slot(3)], RESERVES)) == [("a", 3, 4_000_000, 3_000_000)]


def test_one_slot_cpc_winner_pays_per_click():
    bids = [cpc("a", 500_000, 0.02), cpm("b", 6_000_000)]
    # a: 500_000 * 20 = 10_000_000; price 6_000_000 / 20 = 300_000 per click (> 100_000 reserve)
    assert summary(run_auction(bids, [slot(3)], RESERVES)) == [("a", 3, 10_000_000, 300_000)]


def test_one_slot_reserve_binds_over_a_cheap_runner_up():
    bids = [cpc("a", 500_000, 0.02), cpm("b", 1_000_000)]
    # runner-up 1_000_000 / 20 = 50_000 per click < reserve 100_000
    assert summary(run_auction(bids, [slot(3)], RESERVES)) == [("a", 3, 10_000_000, 100_000)]


@pytest.mark.parametrize(
    ("bid", "ecpm", "reserve"),
    [(cpm("a", 3_000_000), 3_000_000, 1_000_000), (cpc("a", 250_000, 0.05), 12_500_000, 100_000)],
)
def test_a_single_bidder_pays_the_reserve(bid, ecpm, reserve):
    # 250_000 * 50 = 12_500_000 eCPM for the CPC one
    assert summary(run_auction([bid], [slot(3)], RESERVES)) == [("a", 3, ecpm, reserve)]


def test_a_bidder_below_reserve_is_dropped_and_sets_no_price():
    bids = [cpm("a", 3_000_000), cpm("b", 900_000)]
    # b (900_000 < 1_000_000) is gone, so a is alone and pays the reserve, not 900_000
    assert summary(run_auction(bids, [slot(3), slot(8)], RESERVES)) == [
        ("a", 3, 3_000_000, 1_000_000)
    ]


def test_no_bids_no_placements():
    assert run_auction([], [slot(3)], RESERVES) == []


# --- several slots -------------------------------------------------------------------------


def test_several_slots_each_priced_by_the_next_remaining_bid():
    bids = [
        cpm("a", 4_000_000),
        cpc("b", 300_000, 0.01),  # 3_000_000
        cpm("c", 2_000_000),
        cpc("d", 150_000, 0.01),  # 1_500_000
    ]
    assert summary(run_auction(bids, [slot(3), slot(8), slot(13)], RESERVES)) == [
        ("a", 3, 4_000_000, 3_000_000),  # next: b's 3_000_000
        ("b", 8, 3_000_000, 200_000),  # next: c's 2_000_000 / 10 = 200_000 per click
        ("c", 13, 2_000_000, 1_500_000),  # next: d's 1_500_000
    ]


def test_more_slots_than_bids_the_last_winner_pays_the_reserve():
    bids = [cpm("a", 4_000_000), cpm("b", 3_000_000)]
    assert summary(run_auction(bids, [slot(3), slot(8), slot(13)], RESERVES)) == [
        ("a", 3, 4_000_000, 3_000_000),
        ("b", 8, 3_000_000, 1_000_000),  # nobody left: reserve
    ]


def test_one_ad_per_advertiser_and_the_dropped_bid_sets_no_price():
    bids = [
        cpm("a1", 5_000_000, advertiser_id="A"),
        cpm("a2", 4_000_000, advertiser_id="A"),
        cpm("b", 3_000_000, advertiser_id="B"),
    ]
    assert summary(run_auction(bids, [slot(3), slot(8)], RESERVES)) == [
        ("a1", 3, 5_000_000, 3_000_000),  # b's 3_000_000, not a2's 4_000_000
        ("b", 8, 3_000_000, 1_000_000),  # a2 is out: reserve
    ]


def test_each_slot_ranks_and_prices_by_the_pctrs_of_that_slot():
    bids = [cpm("m", 5_000_000), cpc("x", 400_000, 0.02), cpc("y", 300_000, 0.02)]
    slots = [slot(3), slot(8)]
    # The click ads' pCTR halves in the second slot; the CPM ad's worth does not fall.
    placements = run_auction(bids, slots, RESERVES, [[0.01, 0.02, 0.02], [0.01, 0.01, 0.01]])
    assert summary(placements) == [
        ("x", 3, 8_000_000, 300_000),  # next: y's 6_000_000 / (0.02 x 1000)
        ("m", 8, 5_000_000, 3_000_000),  # next: y's 300_000 x 0.01 x 1000 in this slot
    ]
    # Each winner carries its pCTR in the slot it took.
    assert [p.bid.pctr for p in placements] == [0.02, 0.01]
    # Priced as if the first slot's pCTRs held everywhere, y would take the second slot.
    assert summary(run_auction(bids, slots, RESERVES)) == [
        ("x", 3, 8_000_000, 300_000),
        ("y", 8, 6_000_000, 250_000),  # next: m's 5_000_000 / (0.02 x 1000)
    ]


def test_a_cpc_winner_lower_down_pays_more_per_click_to_beat_a_cpm_bid():
    bids = [cpm("m", 2_000_000), cpc("x", 400_000, 0.02)]
    first, later = [[0.01, 0.02]], [[0.01, 0.008]]
    assert summary(run_auction(bids, [slot(3)], RESERVES, first)) == [
        ("x", 3, 8_000_000, 100_000)  # 2_000_000 / (0.02 x 1000)
    ]
    assert summary(run_auction(bids, [slot(9)], RESERVES, later)) == [
        ("x", 9, 3_200_000, 250_000)  # 2_000_000 / (0.008 x 1000): fewer clicks, dearer
    ]


@pytest.mark.parametrize(
    "slot_pctrs",
    [
        [[0.01, 0.02]],  # one slot's pCTRs for two slots
        [[0.01, 0.02], [0.01]],  # a pCTR missing
        [[0.01, 0.02], [0.01, 0.0]],  # not a probability
    ],
)
def test_malformed_slot_pctrs_are_refused(slot_pctrs):
    bids = [cpm("m", 2_000_000), cpc("x", 400_000, 0.02)]
    with pytest.raises(ValueError):
        run_auction(bids, [slot(3), slot(8)], RESERVES, slot_pctrs)


def test_slots_out_of_page_order_are_refused():
    with pytest.raises(ValueError):
        run_auction([cpm("a", 2_000_000)], [slot(8), slot(3)], RESERVES)


# --- ties ----------------------------------------------------------------------------------


TIED = [
    cpm("a", 2_000_000, tie_breaker=1),
    cpm("c", 2_000_000, tie_breaker=5),
    cpc("b", 200_000, 0.01, tie_breaker=5),  # 200_000 * 10 = 2_000_000
]


def test_ties_go_to_the_higher_tie_breaker_then_the_lower_ad_group_id():
    # all at 2_000_000: b and c have tie_breaker 5 (b < c), a has 1
    assert [bid.ad_group_id for bid in rank(TIED, RESERVES)] == ["b", "c", "a"]


def test_tied_winners_pay_their_bid():
    assert summary(run_auction(TIED, [slot(3), slot(8), slot(13)], RESERVES)) == [
        ("b", 3, 2_000_000, 200_000),  # next 2_000_000 / 10 = 200_000 = its bid
        ("c", 8, 2_000_000, 2_000_000),  # next a: 2_000_000 = its bid
        ("a", 13, 2_000_000, 1_000_000),  # nobody left: reserve
    ]


def test_the_result_does_not_depend_on_the_input_order():
    expected = run_auction(TIED, [slot(3), slot(8)], RESERVES)
    for order in permutations(TIED):
        assert run_auction(order, [slot(3), slot(8)], RESERVES) == expected


def test_a_rounded_down_cpc_tie_pays_exactly_its_bid():
    # ppb 1_500_000: 666_667 * 1.5 = 1_000_000.5 -> eCPM 1_000_000, tied with the CPM bid
    bids = [cpc("a", 666_667, 0.0015, tie_breaker=2), cpm("b", 1_000_000, tie_breaker=1)]
    # price: ceil(1_000_000 / 1.5) = ceil(666_666.7) = 666_667, the bid itself
    # (666_666 * 1.5 = 999_999 would lose the rank)
    assert summary(run_auction(bids, [slot(3)], RESERVES)) == [("a", 3, 1_000_000, 666_667)]


# --- brand safety --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exclusion",
    [{"excluded_creators": frozenset({"c_risky"})}, {"excluded_categories": frozenset({"news"})}],
)
def test_an_excluded_neighbour_skips_the_bid_for_that_slot_only(exclusion):
    bids = [cpm("a", 5_000_000, **exclusion), cpm("b", 3_000_000), cpm("c", 2_000_000)]
    slots = [slot(3, CLEAN, RISKY), slot(8, CLEAN, CLEAN)]
    assert summary(run_auction(bids, slots, RESERVES)) == [
        # a may not sit by RISKY; b wins and pays c's 2_000_000 (a's 5_000_000 does not count)
        ("b", 3, 3_000_000, 2_000_000),
        ("a", 8, 5_000_000, 2_000_000),  # next remaining: c
    ]


def test_an_advertisers_next_bid_stands_in_where_brand_safety_keeps_its_best_out():
    shy = cpm("a1", 9_000_000, advertiser_id="adv_a", excluded_creators=frozenset({"c_risky"}))
    bids = [shy, cpm("a2", 7_000_000, advertiser_id="adv_a"), cpm("b", 5_000_000)]
    slots = [slot(3, CLEAN, RISKY), slot(8, CLEAN, CLEAN)]
    assert summary(run_auction(bids, slots, RESERVES)) == [
        # a1 may not sit by RISKY; a2, allowed there, beats b and pays b's 5_000_000
        ("a2", 3, 7_000_000, 5_000_000),
        # adv_a is on the page: b takes slot 8 alone and pays the reserve
        ("b", 8, 5_000_000, 1_000_000),
    ]


def test_a_slot_nobody_may_take_stays_empty_and_later_slots_still_fill():
    shy = {"excluded_creators": frozenset({"c_risky"})}
    bids = [cpm("a", 5_000_000, **shy), cpm("b", 3_000_000, **shy)]
    slots = [slot(3, RISKY, CLEAN), slot(8, CLEAN, CLEAN)]
    # slot 3 is empty, so the ad meant for 8 really sits at 7 (see run_auction)
    assert summary(run_auction(bids, slots, RESERVES)) == [("a", 7, 5_000_000, 3_000_000)]


SHY = frozenset({"c_risky"})


def test_a_slot_after_an_empty_one_is_ranked_and_priced_where_its_ad_really_sits():
    bids = [
        cpm("m", 2_000_000, excluded_creators=SHY),
        cpc("x", 400_000, 0.02, excluded_creators=SHY),
    ]
    slots = [slot(3, CLEAN, RISKY), slot(8, CLEAN, CLEAN)]
    # Clicks fall down the feed: x has pCTR 0.004 at 8 but 0.01 at 7.
    slot_pctrs = [[0.01, 0.02], [0.01, 0.004]]
    asked = []

    def pctrs_at(position):
        asked.append(position)
        return {7: [0.01, 0.01]}[position]

    placements = run_auction(bids, slots, RESERVES, slot_pctrs, pctrs_at)
    # Nobody may sit next to RISKY: slot 3 stays empty and slot 8's ad sits at 7. There x is
    # worth 400_000 x 0.01 x 1000 = 4_000_000 and beats m's 2_000_000, paying
    # 2_000_000 / (0.01 x 1000) = 200_000 a click.
    assert summary(placements) == [("x", 7, 4_000_000, 200_000)]
    assert placements[0].bid.pctr == 0.01
    assert asked == [7]
    # At position 8's pCTRs x would be worth 1_600_000 and m would have taken the slot.
    assert summary(run_auction(bids, slots, RESERVES, slot_pctrs)) == [
        ("m", 7, 2_000_000, 1_600_000)
    ]


def test_a_cpc_winner_moved_up_by_an_empty_slot_pays_per_click_at_its_real_position():
    bids = [
        cpm("m", 2_000_000, excluded_creators=SHY),
        cpc("x", 400_000, 0.02, excluded_creators=SHY),
    ]
    slots = [slot(3, CLEAN, RISKY), slot(8, CLEAN, CLEAN)]
    slot_pctrs = [[0.01, 0.02], [0.01, 0.008]]
    placements = run_auction(bids, slots, RESERVES, slot_pctrs, lambda position: [0.01, 0.01])
    # x shows at 7 with pCTR 0.01: 2_000_000 / (0.01 x 1000) = 200_000 a click, not the
    # 2_000_000 / (0.008 x 1000) = 250_000 it would pay at position 8.
    assert summary(placements) == [("x", 7, 4_000_000, 200_000)]
    assert placements[0].bid.pctr == 0.01


def test_other_positions_are_asked_for_only_once_a_slot_stays_empty():
    asked = []

    def pctrs_at(position):
        asked.append(position)
        return [0.01, 0.01]

    bids = [cpm("m", 2_000_000), cpc("x", 400_000, 0.02)]
    slot_pctrs = [[0.01, 0.02], [0.01, 0.008], [0.01, 0.006]]
    # Every slot filled (the third has nobody left): nothing asked.
    filled = run_auction(bids, [slot(3), slot(8), slot(13)], RESERVES, slot_pctrs, pctrs_at)
    assert [p.position for p in filled] == [3, 8]
    assert asked == []
    shy = [replace(bids[0], excluded_creators=SHY), replace(bids[1], excluded_creators=SHY)]
    slots = [slot(3, RISKY), slot(8), slot(13)]
    placements = run_auction(shy, slots, RESERVES, slot_pctrs, pctrs_at)
    # x (4_000_000 at 7) then m (alone, the reserve) at 12: each asked at its real position.
    assert summary(placements) == [("x", 7, 4_000_000, 200_000), ("m", 12, 2_000_000, 1_000_000)]
    assert asked == [7, 12]


def test_a_model_without_a_position_effect_keeps_each_slots_ranking():
    bids = [
        cpm("m", 2_000_000, excluded_creators=SHY),
        cpc("x", 400_000, 0.02, excluded_creators=SHY),
    ]
    slots = [slot(3, CLEAN, RISKY), slot(8, CLEAN, CLEAN)]
    same = [[0.01, 0.008], [0.01, 0.008]]
    placements = run_auction(bids, slots, RESERVES, same, lambda position: (0.01, 0.008))
    assert placements == run_auction(bids, slots, RESERVES, same)
    assert summary(placements) == [("x", 7, 3_200_000, 250_000)]


@pytest.mark.parametrize(
    "pctrs",
    [
        [0.01],  # a pCTR missing
        [0.01, 0.0],  # not a probability
    ],
)
def test_malformed_pctrs_at_another_position_are_refused(pctrs):
    bids = [
        cpm("m", 2_000_000, excluded_creators=SHY),
        cpc("x", 400_000, 0.02, excluded_creators=SHY),
    ]
    slots = [slot(3, RISKY), slot(8)]
    with pytest.raises(ValueError):
        run_auction(bids, slots, RESERVES, [[0.01, 0.02], [0.01, 0.01]], lambda p: pctrs)


def test_pctrs_at_other_positions_without_the_slots_own_are_refused():
    with pytest.raises(ValueError):
        run_auction([cpm("m", 2_000_000)], [slot(3)], RESERVES, None, lambda p: [0.01])


def test_a_category_less_neighbour_matches_no_category_exclusion():
    uncategorised = FeedItem(video_id="v", creator_id="c", category=None)
    bid = cpm("a", 2_000_000, excluded_categories=frozenset({"news"}))
    assert is_allowed(bid, slot(3, uncategorised))


# --- properties ----------------------------------------------------------------------------

CREATORS = ("c1", "c2", "c3")
CATEGORIES = ("news", "sports")

feed_items = st.builds(
    FeedItem,
    video_id=st.just("v"),
    creator_id=st.sampled_from(CREATORS),
    category=st.sampled_from((*CATEGORIES, None)),
)
random_bids = st.builds(
    Bid,
    ad_group_id=st.just(""),
    advertiser_id=st.sampled_from(("A", "B", "C", "D", "E")),
    billing_event=st.sampled_from((CPM, CPC)),
    bid_micros=st.integers(1, 5_000_000),
    pctr=st.floats(0.0, 1.0, exclude_min=True),
    excluded_creators=st.frozensets(st.sampled_from(CREATORS), max_size=2),
    excluded_categories=st.frozensets(st.sampled_from(CATEGORIES), max_size=1),
    tie_breaker=st.integers(0, 2),
)
bid_lists = st.lists(random_bids, max_size=10).map(
    lambda bids: [replace(bid, ad_group_id=f"ag{i}") for i, bid in enumerate(bids)]
)
slot_lists = st.lists(st.lists(feed_items, min_size=1, max_size=2), max_size=4).map(
    lambda pages: [Slot(position=3 + 5 * i, neighbours=tuple(n)) for i, n in enumerate(pages)]
)
random_reserves = st.builds(
    ReservePrices, cpm_micros=st.integers(0, 2_000_000), cpc_micros=st.integers(0, 200_000)
)


def best_of_each_advertiser(ranked: list[Bid]) -> list[Bid]:
    seen: set[str] = set()
    best = []
    for bid in ranked:
        if bid.advertiser_id not in seen:
            seen.add(bid.advertiser_id)
            best.append(bid)
    return best


def reserve_for(bid: Bid, reserves: ReservePrices) -> int:
    return reserves.cpm_micros if bid.billing_event == CPM else reserves.cpc_micros


def ecpm_at(bid: Bid, price: int) -> int:
    """The eCPM the bid would have at ``price`` in its own unit."""
    if bid.billing_event == CPM:
        return price
    return price * pctr_ppb(bid.pctr) * 1000 // 10**9


def slot_of_each_placement(slots, placements):
    """Each slot with the position its ad takes in the blended feed (its own, less the
    earlier slots left empty) and its placement (or None)."""
    pending = list(placements)
    empty = 0
    for each in slots:
        position = each.position - empty
        if pending and pending[0].position == position:
            yield each, position, pending.pop(0)
        else:
            empty += 1
            yield each, position, None
    assert not pending


# A pCTR per bid (up to 10) at every feed position up to 18, the last slot slot_lists draws:
# a model's pCTRs, wherever an ad ends up after slots left empty.
position_pctr_tables = st.lists(
    st.lists(st.floats(0.0, 1.0, exclude_min=True), min_size=10, max_size=10),
    min_size=19,
    max_size=19,
)


def auction_at_positions(bids, slots, reserves, table):
    """``run_auction`` with each bid's pCTR at each position from ``table``."""
    count = len(bids)
    slot_pctrs = [table[each.position][:count] for each in slots]
    return run_auction(bids, slots, reserves, slot_pctrs, lambda p: table[p][:count])


def at_position(bids, table, position):
    """The bids with their pCTRs at ``position`` (their own without a table)."""
    if table is None:
        return list(bids)
    return [replace(bid, pctr=pctr) for bid, pctr in zip(bids, table[position], strict=False)]


@given(bid_lists, slot_lists, random_reserves)
def test_prices_lie_between_reserve_and_bid(bids, slots, reserves):
    for placement in run_auction(bids, slots, reserves):
        assert type(placement.price_micros) is int
        assert type(placement.ecpm_micros) is int
        bid = placement.bid
        assert reserve_for(bid, reserves) <= placement.price_micros <= bid.bid_micros


@given(bid_lists, slot_lists, random_reserves)
def test_no_advertiser_wins_twice(bids, slots, reserves):
    advertisers = [p.bid.advertiser_id for p in run_auction(bids, slots, reserves)]
    assert len(advertisers) == len(set(advertisers))


@given(bid_lists, slot_lists, random_reserves)
def test_the_result_does_not_depend_on_the_order_of_the_bids(bids, slots, reserves):
    assert run_auction(bids[::-1], slots, reserves) == run_auction(bids, slots, reserves)


@given(bid_lists, slot_lists, random_reserves)
def test_ecpms_fall_slot_by_slot_without_exclusions(bids, slots, reserves):
    unrestricted = [
        replace(bid, excluded_creators=frozenset(), excluded_categories=frozenset()) for bid in bids
    ]
    placements = run_auction(unrestricted, slots, reserves)
    ecpms = [placement.ecpm_micros for placement in placements]
    assert ecpms == sorted(ecpms, reverse=True)
    assert [p.position for p in placements] == [s.position for s in slots[: len(placements)]]


@given(bid_lists, slot_lists, random_reserves, st.none() | position_pctr_tables)
def test_each_slot_goes_to_the_best_allowed_bid_at_the_least_price_that_keeps_it(
    bids, slots, reserves, table
):
    """Without a table each bid's own pCTR holds everywhere; with one, each slot is ranked
    and priced at the pCTRs of the position its ad really takes."""
    if table is None:
        placements = run_auction(bids, slots, reserves)
    else:
        placements = auction_at_positions(bids, slots, reserves, table)
    winning_advertisers = {p.bid.advertiser_id for p in placements}
    placed: set[str] = set()
    for each, position, placement in slot_of_each_placement(slots, placements):
        # Every bid that may serve, at its pCTR where the slot's ad sits, an advertiser's
        # several bids too: one kept out of a slot by brand safety leaves the slot to the
        # advertiser's next bid.
        remaining = sorted(
            (
                bid
                for bid in at_position(bids, table, position)
                if bid.bid_micros >= reserve_for(bid, reserves) and bid.advertiser_id not in placed
            ),
            key=lambda bid: (-ecpm_micros(bid), -bid.tie_breaker, bid.ad_group_id),
        )
        losers = [bid for bid in remaining if bid.advertiser_id not in winning_advertisers]
        allowed = best_of_each_advertiser([bid for bid in remaining if is_allowed(bid, each)])
        if placement is None:
            assert allowed == []
            continue
        winner = placement.bid
        assert winner in allowed
        for loser in losers:
            if is_allowed(loser, each):
                assert placement.ecpm_micros >= ecpm_micros(loser)
        others = [ecpm_micros(bid) for bid in allowed if bid != winner]
        to_beat = max(others, default=0)
        # GSP: the price keeps the rank (unless capped at the bid) and one micro less would
        # not (unless the reserve set it).
        if placement.price_micros < winner.bid_micros:
            assert ecpm_at(winner, placement.price_micros) >= to_beat
        if placement.price_micros > reserve_for(winner, reserves):
            assert ecpm_at(winner, placement.price_micros - 1) < to_beat
        placed.add(winner.advertiser_id)


@given(bid_lists, slot_lists, random_reserves)
def test_each_bids_own_pctr_at_every_slot_is_the_plain_auction(bids, slots, reserves):
    own = [bid.pctr for bid in bids]
    plain = run_auction(bids, slots, reserves)
    assert run_auction(bids, slots, reserves, [own for _ in slots]) == plain
    assert run_auction(bids, slots, reserves, [own for _ in slots], lambda p: own) == plain


@given(bid_lists, slot_lists, random_reserves, position_pctr_tables)
def test_with_slot_pctrs_each_slot_is_the_plain_auction_at_its_real_positions_pctrs(
    bids, slots, reserves, table
):
    """Slot k's winner and price are those of the plain auction over the bids not placed
    earlier, each at its pCTR at the position slot k's ad takes: the slot's own, less the
    earlier slots left empty."""
    placements = auction_at_positions(bids, slots, reserves, table)
    placed: set[str] = set()
    empty = 0
    for each in slots:
        position = each.position - empty
        at_slot = [
            bid for bid in at_position(bids, table, position) if bid.advertiser_id not in placed
        ]
        # Only advertisers placed earlier drop out; their other bids go too.
        expected = run_auction(at_slot, [replace(each, position=position)], reserves)
        mine = [p for p in placements if p.position == position]
        if not expected:
            assert mine == []
            empty += 1
            continue
        assert mine == expected  # the bid with its pCTR there, the position, eCPM and price
        placed.add(mine[0].bid.advertiser_id)


def test_bids_and_placements_are_values_that_hash_by_value():
    """Bid is not frozen (its __init__ is on the hot path) but still hashes by value, so the
    frozen Placement that holds one can be a set member or a key."""
    bid = Bid("ag1", "adv1", CPC, 2_000_000, 0.02)
    placement = Placement(bid, position=3, ecpm_micros=40_000, price_micros=1_000_000)
    twin = Placement(replace(bid), position=3, ecpm_micros=40_000, price_micros=1_000_000)
    assert {placement, twin} == {placement}
    assert hash(replace(bid, pctr=0.03)) != hash(bid)

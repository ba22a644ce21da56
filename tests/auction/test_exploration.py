"""Exploration: a bounded share of pages, the newest eligible ad group in the last slot at
its reserve, and no effect on the other winners' prices."""

from dataclasses import replace

import pytest

from auction import engine
from auction.ctr import ConstantPredictor
from auction.exploration import (
    bid_to_explore,
    is_exploration_page,
    run_with_exploration,
)
from auction.history import Counts, CtrHistory
from auction.market import Market
from auction.pricing import run_auction
from auction.types import User
from tests.auction.test_engine import CONFIG, FEED, NOW, Counters, group
from tests.auction.test_pricing import CLEAN, RESERVES, RISKY, cpc, cpm, slot

ESTABLISHED = CtrHistory(
    {"old1": Counts(50_000, 900), "old2": Counts(20_000, 300), "new2": Counts(400, 9)},
    {},
    Counts(10**6, 20_000),
)


def test_the_share_of_exploration_pages_is_the_configured_share():
    pages = [f"req-{number}" for number in range(20_000)]
    explored = sum(is_exploration_page(page, 0.05) for page in pages)
    assert 0.045 <= explored / len(pages) <= 0.055
    assert not any(is_exploration_page(page, 0.0) for page in pages)
    assert is_exploration_page("req-7", 0.05) == is_exploration_page("req-7", 0.05)


def test_the_newest_eligible_bid_is_explored():
    bids = [
        cpm("old1", 9_000_000),
        cpm("new1", 2_000_000),  # no impressions at all: the newest
        cpm("new2", 5_000_000),
    ]
    assert bid_to_explore(bids, slot(5, CLEAN), ESTABLISHED, RESERVES, 1000).ad_group_id == "new1"
    # Established ad groups never are.
    assert bid_to_explore(bids[:1], slot(5, CLEAN), ESTABLISHED, RESERVES, 1000) is None


def test_a_new_bid_below_its_reserve_or_unsafe_next_to_the_slot_is_not_explored():
    below = cpm("new1", RESERVES.cpm_micros - 1)
    unsafe = cpm("new3", 3_000_000, excluded_categories=frozenset({"news"}))
    assert bid_to_explore([below, unsafe], slot(5, RISKY), ESTABLISHED, RESERVES, 1000) is None
    assert bid_to_explore([unsafe], slot(5, CLEAN), ESTABLISHED, RESERVES, 1000) == unsafe


def test_the_other_slots_are_auctioned_as_without_exploration():
    bids = [
        cpm("old1", 9_000_000, "adv_a"),
        cpc("old2", 400_000, 0.02, "adv_b"),
        cpm("other", 3_000_000, "adv_c"),  # new, and not a winner: explored
        cpm("new1", 8_000_000, "adv_d"),  # new, but it wins the second slot outright
    ]
    slots = [slot(3, CLEAN), slot(8, CLEAN), slot(13, CLEAN)]
    placements, explored = run_with_exploration(bids, slots, RESERVES, ESTABLISHED, 1000)
    plain = run_auction(bids, slots, RESERVES)
    assert placements[:2] == plain[:2]  # the same winners at the same prices
    assert [p.bid.ad_group_id for p in plain] == ["old1", "new1", "old2"]
    assert explored.ad_group_id == "other"
    last = placements[-1]
    assert last.bid == explored and last.position == 13
    assert last.price_micros == RESERVES.cpm_micros


def test_without_a_new_bid_of_another_advertiser_the_page_is_a_plain_auction():
    bids = [cpm("old1", 9_000_000, "adv_d"), cpm("new1", 2_000_000, "adv_d")]
    slots = [slot(3, CLEAN), slot(8, CLEAN)]
    placements, explored = run_with_exploration(bids, slots, RESERVES, ESTABLISHED, 1000)
    assert explored is None
    assert placements == run_auction(bids, slots, RESERVES)


def test_the_explored_bid_carries_its_pctr_in_the_last_slot():
    bids = [cpm("old1", 9_000_000, "adv_a"), cpc("new1", 400_000, 0.02, "adv_b")]
    slots = [slot(3, CLEAN), slot(8, CLEAN)]
    slot_pctrs = [[0.01, 0.02], [0.01, 0.012]]
    placements, explored = run_with_exploration(
        bids, slots, RESERVES, ESTABLISHED, 1000, slot_pctrs
    )
    assert placements[:1] == run_auction(bids, slots[:1], RESERVES, slot_pctrs[:1])
    assert explored.ad_group_id == "new1" and explored.pctr == 0.012
    last = placements[-1]
    assert (last.bid, last.position) == (explored, 8)
    assert (last.ecpm_micros, last.price_micros) == (4_800_000, RESERVES.cpc_micros)


def test_an_empty_slot_before_it_moves_the_explored_ad_up():
    news = frozenset({"news"})
    bids = [
        cpm("old1", 9_000_000, "adv_a", excluded_categories=news),
        cpm("new1", 2_000_000, "adv_b", excluded_categories=news),
    ]
    slots = [slot(3, RISKY), slot(8, CLEAN)]
    placements, explored = run_with_exploration(bids, slots, RESERVES, ESTABLISHED, 1000)
    # Nobody may sit next to the news video, so the first slot stays empty and the explored
    # ad sits one place earlier in the blended feed.
    assert explored.ad_group_id == "new1"
    assert [(p.bid.ad_group_id, p.position) for p in placements] == [("new1", 7)]


@pytest.mark.parametrize("newcomers", [0, 1])
def test_after_an_empty_slot_every_ad_is_priced_at_the_position_it_really_takes(newcomers):
    news = frozenset({"news"})
    bids = [
        cpc("old1", 400_000, 0.02, "adv_a", excluded_categories=news),
        cpc("new1", 400_000, 0.02, "adv_b", excluded_categories=news),
    ]
    slots = [slot(3, RISKY), slot(8, CLEAN), slot(13, CLEAN)]
    slot_pctrs = [[0.02, 0.02], [0.012, 0.008], [0.006, 0.004]]
    at = {7: [0.015, 0.01], 12: [0.0075, 0.005]}
    asked = []

    def pctrs_at(position):
        asked.append(position)
        return at[position]

    placements, explored = run_with_exploration(
        bids, slots, RESERVES, ESTABLISHED, 1000, slot_pctrs, newcomers, pctrs_at
    )
    # Slot 3 stays empty (both exclude news), so slot 8's ad sits at 7 and the explored one
    # at 12, each with its pCTR there. At 7 old1 is worth 400_000 x 0.015 x 1000 = 6_000_000;
    # new1 (4_000_000 there) prices it at 4_000_000 / 15 = 266_667 a click, unless new1 was
    # found for exploration only: then old1 is alone and pays the reserve.
    price = 266_667 if newcomers == 0 else RESERVES.cpc_micros
    assert explored.ad_group_id == "new1" and explored.pctr == 0.005
    assert [(p.bid.ad_group_id, p.position, p.bid.pctr) for p in placements] == [
        ("old1", 7, 0.015),
        ("new1", 12, 0.005),
    ]
    assert [(p.ecpm_micros, p.price_micros) for p in placements] == [
        (6_000_000, price),
        (2_000_000, RESERVES.cpc_micros),  # 400_000 x 0.005 x 1000, at its reserve
    ]
    assert asked == [7, 12]


def test_the_engine_explores_only_on_exploration_pages():
    groups = [
        group("old1", "adv_a", 9_000_000),
        group("old2", "adv_c", 5_000_000),
        group("new1", "adv_b", 2_000_000),
    ]
    market = Market(groups, 0.02)
    predictor = ConstantPredictor(0.02, "c")
    request = engine.Request("req", User("u"), FEED, NOW)
    never = replace(CONFIG, exploration_share=0.0)
    plain = engine.run(request, market, predictor, Counters(), never, ESTABLISHED)
    assert plain.explored is None
    assert [w.ad_group.ad_group_id for w in plain.winners] == ["old1", "old2"]
    always = replace(CONFIG, exploration_share=1.0)
    outcome = engine.run(request, market, predictor, Counters(), always, ESTABLISHED)
    assert outcome.explored == "new1"
    explored_prices = [(w.ad_group.ad_group_id, w.placement.price_micros) for w in outcome.winners]
    assert explored_prices == [
        ("old1", plain.winners[0].placement.price_micros),  # 5,000,000 either way
        ("new1", CONFIG.reserves.cpm_micros),
    ]


def test_a_new_ad_group_beyond_the_first_stage_is_found_for_exploration():
    established = [group(f"old{i}", f"adv_{i}", 9_000_000 - i) for i in range(8)]
    newcomer = group("new1", "adv_new", 1_500_000)  # last in prior order
    history = CtrHistory({g.ad_group_id: Counts(5_000, 100) for g in established}, {}, Counts())
    request = engine.Request("req", User("u"), FEED, NOW)
    market = Market([*established, newcomer], 0.02)
    predictor = ConstantPredictor(0.02, "c")
    always = replace(CONFIG, exploration_share=1.0)  # first stage: 4
    outcome = engine.run(request, market, predictor, Counters(), always, history)
    assert outcome.explored == "new1"
    assert outcome.winners[-1].ad_group.ad_group_id == "new1"
    assert "new1" in {c["ad_group_id"] for c in outcome.candidates}
    usual = engine.run(request, market, predictor, Counters(), CONFIG, history)
    assert "new1" not in {c["ad_group_id"] for c in usual.candidates}

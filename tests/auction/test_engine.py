"""The engine end to end, with a predictor and counters of the test's own."""

from dataclasses import replace
from datetime import UTC, datetime

from auction import engine
from auction.ctr import ConstantPredictor, SlotsFromPredict
from auction.history import EMPTY_HISTORY
from auction.market import Market
from auction.types import (
    Ad,
    AdGroup,
    AdLoadPolicy,
    Budget,
    Creative,
    FeedItem,
    ReservePrices,
    Spend,
    Targeting,
    User,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
CREATIVE = Creative(None, "vid", "caption", "LEARN_MORE", "https://example.com", "Brand")
FEED = tuple(FeedItem(f"v{i}", f"c{i}") for i in range(12))


def group(ad_group_id: str, advertiser_id: str, bid: int) -> AdGroup:
    return AdGroup(
        ad_group_id=ad_group_id,
        campaign_id=f"cmp_{advertiser_id}",
        advertiser_id=advertiser_id,
        objective="REACH",
        billing_event="CPM",
        bid_micros=bid,
        targeting=Targeting(),
        ads=(Ad(f"ad_{ad_group_id}", CREATIVE),),
        timezone="UTC",
        campaign_start=datetime(2026, 1, 1, tzinfo=UTC),
        campaign_end=None,
        campaign_budget=Budget("DAILY", 1_000_000),
        pacing="ACCELERATED",
    )


class Counters:
    def __init__(self, exhausted: set[str] = frozenset()) -> None:
        self.exhausted = exhausted
        self.asked: list[str] = []

    def read(self, user_id, ad_groups, now):
        self.asked += [g.ad_group_id for g in ad_groups]
        spends = [
            Spend(
                ad_group_today_micros=10**9 if g.ad_group_id in self.exhausted else 0,
                campaign_today_micros=10**9 if g.ad_group_id in self.exhausted else 0,
            )
            for g in ad_groups
        ]
        return engine.ChunkCounts(spends, {}, {})


CONFIG = engine.AuctionConfig(
    reserves=ReservePrices(1_000, 1_000),
    first_stage_size=4,
    per_advertiser=2,
    ad_load=AdLoadPolicy(3, 4, 2),
)


def run(groups, counters):
    request = engine.Request("req", User("u"), FEED, NOW)
    return engine.run(request, Market(groups, 0.02), ConstantPredictor(0.02, "c"), counters, CONFIG)


def test_the_first_stage_takes_the_best_prior_candidates_with_variety():
    groups = [group(f"adg_a{i}", "adv_a", 9_000_000 - i) for i in range(4)]
    groups += [
        group("adg_b", "adv_b", 5_000_000),
        group("adg_c", "adv_c", 4_000_000),
        group("adg_d", "adv_d", 3_000_000),
    ]
    outcome = run(groups, Counters())
    scored = [c["ad_group_id"] for c in outcome.candidates]
    # Two of adv_a (the cap), then the next best advertisers, until four are taken.
    assert scored == ["adg_a0", "adg_a1", "adg_b", "adg_c"]
    winners = [w.placement for w in outcome.winners]
    assert [p.bid.ad_group_id for p in winners] == ["adg_a0", "adg_b"]
    # GSP: adg_a0 pays adv_b's bid (its own runner-up is the same advertiser, which was
    # dropped); adg_b then pays adg_c's.
    assert [p.price_micros for p in winners] == [5_000_000, 4_000_000]
    assert [p.position for p in winners] == [3, 8]


def test_exhausted_budgets_are_skipped_and_the_stage_reads_on():
    groups = [
        group("adg_b", "adv_b", 5_000_000),
        group("adg_c", "adv_c", 4_000_000),
        group("adg_d", "adv_d", 3_000_000),
        group("adg_e", "adv_e", 2_000_000),
        group("adg_f", "adv_f", 1_000_000),
    ]
    counters = Counters(exhausted={"adg_b", "adg_c"})
    outcome = run(groups, counters)
    assert [c["ad_group_id"] for c in outcome.candidates] == ["adg_d", "adg_e", "adg_f"]
    assert outcome.skipped == {"budget_exhausted": 2}
    assert counters.asked == ["adg_b", "adg_c", "adg_d", "adg_e", "adg_f"]


def test_bids_below_their_reserve_take_no_seat_in_the_first_stage():
    # Four CPC ad groups bid below the 1_000_000 reserve per click; at the 2% prior their
    # eCPM (about 20_000_000) puts them ahead of a CPM bid that can serve, and they would
    # fill the four seats: the page would get no ad.
    config = replace(CONFIG, reserves=ReservePrices(1_000_000, 1_000_000))
    low = [
        replace(group(f"adg_low{i}", f"adv_low{i}", 999_999), billing_event="CPC") for i in range(4)
    ]
    request = engine.Request("req", User("u"), FEED, NOW)
    outcome = engine.run(
        request,
        Market([*low, group("adg_ok", "adv_ok", 1_200_000)], 0.02),
        ConstantPredictor(0.02, "c"),
        Counters(),
        config,
    )
    assert [c["ad_group_id"] for c in outcome.candidates] == ["adg_ok"]
    assert [w.placement.bid.ad_group_id for w in outcome.winners] == ["adg_ok"]
    assert outcome.skipped == {"below_reserve": 4}


def test_a_newcomer_found_for_exploration_moves_no_other_winners_price():
    groups = [
        group("adg_a", "adv_a", 5_000_000),
        group("adg_b", "adv_b", 4_000_000),
        group("adg_c", "adv_c", 3_000_000),  # beyond a first stage of two
    ]

    def prices(exploration_share: float):
        config = replace(
            CONFIG,
            first_stage_size=2,
            per_advertiser=1,
            ad_load=AdLoadPolicy(3, 4, 3),
            exploration_share=exploration_share,
        )
        request = engine.Request("req", User("u"), FEED, NOW)
        market = Market(groups, 0.02)
        outcome = engine.run(request, market, ConstantPredictor(0.02, "c"), Counters(), config)
        placed = {w.placement.bid.ad_group_id: w.placement.price_micros for w in outcome.winners}
        return placed, outcome.explored

    plain, _ = prices(0.0)
    explored_page, explored = prices(1.0)
    assert plain == {"adg_a": 4_000_000, "adg_b": 1_000}
    # adg_c, a newcomer to the history, takes the last slot at its reserve; adg_b still has
    # no runner-up in its slot and pays the reserve, as without exploration.
    assert explored == "adg_c"
    assert explored_page == {**plain, "adg_c": 1_000}


def test_a_feed_too_short_for_a_slot_asks_nothing():
    counters = Counters()
    request = engine.Request("req", User("u"), FEED[:2], NOW)
    outcome = engine.run(
        request,
        Market([group("adg_b", "adv_b", 5_000_000)], 0.02),
        ConstantPredictor(0.02, "c"),
        counters,
        CONFIG,
    )
    assert outcome.winners == [] and counters.asked == []
    assert outcome.items == list(FEED[:2])


class FallingDownTheFeed(SlotsFromPredict):
    """pCTR 0.02 at position 3, 0.01 at position 8: clicks fall down the feed."""

    version = "falling"

    def predict(self, user, ad_groups, positions, now, history=EMPTY_HISTORY):
        return [0.02 if position <= 3 else 0.01 for position in positions]


def test_each_slot_is_auctioned_at_its_own_pctrs():
    def click_ad(name, bid):
        return replace(group(name, f"adv_{name}", bid), billing_event="CPC")

    groups = [click_ad("click1", 400_000), click_ad("click2", 300_000)]
    groups.append(group("adg_b", "adv_b", 5_000_000))
    request = engine.Request("req", User("u"), FEED, NOW)
    outcome = engine.run(request, Market(groups, 0.02), FallingDownTheFeed(), Counters(), CONFIG)
    placements = [w.placement for w in outcome.winners]
    # First slot: click1's 400,000 x 0.02 x 1000 = 8,000,000 beats click2's 6,000,000 and
    # pays 6,000,000 / 20 a click. Second slot: click2 is worth only 3,000,000 there, so
    # adg_b (5,000,000) takes it and pays that (at the first slot's pCTR click2 would win).
    assert [(p.bid.ad_group_id, p.position, p.price_micros) for p in placements] == [
        ("click1", 3, 300_000),
        ("adg_b", 8, 3_000_000),
    ]
    assert [p.bid.pctr for p in placements] == [0.02, 0.01]
    # Audit: candidates are listed with their pCTR in the first slot.
    assert {c["ad_group_id"]: c["pctr"] for c in outcome.candidates}["click2"] == 0.02


class FallingWithPosition(SlotsFromPredict):
    """pCTR 0.1 / (1 + position): 0.025 at 3, 0.0125 at 7, 0.0111 at 8. Records the
    positions it is asked about, one list per ``predict`` call."""

    version = "falling-with-position"

    def __init__(self) -> None:
        self.asked: list[list[int]] = []

    def predict(self, user, ad_groups, positions, now, history=EMPTY_HISTORY):
        self.asked.append(sorted(set(positions)))
        return [0.1 / (1 + position) for position in positions]


def brand_safe(name: str, bid: int, billing_event: str = "CPM") -> AdGroup:
    """An ad group that will not sit next to creator c2, a neighbour of the first slot."""
    excluded = Targeting(excluded_creators=frozenset({"c2"}))
    return replace(group(name, f"adv_{name}", bid), billing_event=billing_event, targeting=excluded)


def test_after_an_empty_slot_each_ad_is_ranked_priced_and_scored_where_it_shows():
    config = replace(CONFIG, ad_load=AdLoadPolicy(3, 4, 3), exploration_share=0.0)
    groups = [brand_safe("click", 1_000_000, "CPC"), brand_safe("display", 2_000_000)]
    predictor = FallingWithPosition()
    request = engine.Request("req", User("u"), FEED, NOW)
    outcome = engine.run(request, Market(groups, 0.02), predictor, Counters(), config)
    placements = [w.placement for w in outcome.winners]
    # Nobody may take the first slot (next to c2), so the ads of the slots at 8 and 13 sit
    # at 7 and 12. At 7 the click ad is worth 1,000,000 x 0.0125 x 1000 = 12,500,000 and
    # pays 2,000,000 / (0.0125 x 1000) = 160,000 a click (180,001 at position 8's 0.0111).
    assert [(p.bid.ad_group_id, p.position, p.price_micros) for p in placements] == [
        ("click", 7, 160_000),
        ("display", 12, 1_000),  # alone: the reserve
    ]
    assert [p.bid.pctr for p in placements] == [0.1 / 8, 0.1 / 13]
    assert placements[0].ecpm_micros == 12_500_000
    # The slots at their own positions in one pass, then each moved slot's real position.
    assert predictor.asked == [[3], [8], [13], [7], [12]]


def test_a_page_whose_slots_all_fill_asks_the_model_nothing_more():
    config = replace(CONFIG, ad_load=AdLoadPolicy(3, 4, 3), exploration_share=0.0)
    groups = [
        replace(group("click", "adv_click", 1_000_000), billing_event="CPC"),
        group("display", "adv_display", 2_000_000),
    ]
    predictor = FallingWithPosition()
    request = engine.Request("req", User("u"), FEED, NOW)
    outcome = engine.run(request, Market(groups, 0.02), predictor, Counters(), config)
    assert [w.placement.position for w in outcome.winners] == [3, 8]
    assert predictor.asked == [[3], [8], [13]]


def test_on_an_exploration_page_the_explored_ad_is_scored_where_it_shows():
    from auction.history import Counts, CtrHistory

    config = replace(CONFIG, ad_load=AdLoadPolicy(3, 4, 3), exploration_share=1.0)
    groups = [
        brand_safe("click", 1_000_000, "CPC"),
        brand_safe("display", 2_000_000),
        brand_safe("newbie", 1_500_000),
    ]
    established = CtrHistory(
        {"click": Counts(5_000, 100), "display": Counts(5_000, 100)}, {}, Counts(10**6, 20_000)
    )
    predictor = FallingWithPosition()
    request = engine.Request("req", User("u"), FEED, NOW)
    outcome = engine.run(request, Market(groups, 0.02), predictor, Counters(), config, established)
    placements = [w.placement for w in outcome.winners]
    # The first slot stays empty; the second (shown at 7) goes to the click ad as on a plain
    # page; the last (shown at 12) explores the new ad group at its reserve.
    assert outcome.explored == "newbie"
    assert [(p.bid.ad_group_id, p.position, p.price_micros) for p in placements] == [
        ("click", 7, 160_000),
        ("newbie", 12, 1_000),
    ]
    assert [p.bid.pctr for p in placements] == [0.1 / 8, 0.1 / 13]

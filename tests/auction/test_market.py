"""The market's first-stage order: bids, with CPC bids valued at a click-through rate."""

from __future__ import annotations

from auction.history import SHRINKAGE_IMPRESSIONS, Counts, CtrHistory
from auction.market import Market
from auction.targeting import TargetingIndex
from auction.types import CPC, CPM
from tests.auction.test_eligibility import make_ad_group, utc


def _groups():
    return [
        # eCPM 3,000,000 whatever the history.
        make_ad_group(
            ad_group_id="cpm", advertiser_id="a", billing_event=CPM, bid_micros=3_000_000
        ),
        # 100,000 per click: eCPM 2,000,000 at a 2% prior, 10,000,000 at a 10% rate.
        make_ad_group(ad_group_id="good", advertiser_id="b", billing_event=CPC, bid_micros=100_000),
        # 200,000 per click: eCPM 4,000,000 at 2%, about 200,000 at a 0.1% rate.
        make_ad_group(ad_group_id="poor", advertiser_id="c", billing_event=CPC, bid_micros=200_000),
    ]


def _order(market: Market) -> list[str]:
    return [g.ad_group_id for g in market.ad_groups]


def test_without_history_cpc_bids_are_valued_at_the_prior():
    assert _order(Market(_groups(), 0.02)) == ["poor", "cpm", "good"]


def test_with_history_each_cpc_bid_is_valued_at_its_own_click_through_rate():
    # Enough impressions that the shrinkage toward the platform's rate hardly moves them.
    n = int(SHRINKAGE_IMPRESSIONS * 1000)
    history = CtrHistory(
        {"good": Counts(n, n // 10), "poor": Counts(n, n // 1000)},
        {"b": Counts(n, n // 10), "c": Counts(n, n // 1000)},
        Counts(2 * n, n // 10 + n // 1000),
    )
    market = Market(_groups(), 0.02, history)
    assert _order(market) == ["good", "cpm", "poor"]
    assert market.history is history


def test_an_ad_group_without_history_takes_its_advertisers_rate_then_the_platforms():
    n = int(SHRINKAGE_IMPRESSIONS * 1000)
    history = CtrHistory({}, {"b": Counts(n, n // 10)}, Counts(n, n // 10))
    groups = [
        *_groups(),
        make_ad_group(ad_group_id="new", advertiser_id="d", billing_event=CPC, bid_micros=50_000),
    ]
    # "good" at its advertiser's 10%; "poor", "new" at the platform's 10% too: 20,000,000 and
    # 5,000,000 eCPM.
    assert _order(Market(groups, 0.02, history)) == ["poor", "good", "new", "cpm"]


def test_a_minutes_live_ad_groups_are_worked_out_once_and_can_be_worked_out_ahead(monkeypatch):
    worked_out = []
    mask = TargetingIndex.mask

    def counted(index, keep):
        worked_out.append(1)
        return mask(index, keep)

    monkeypatch.setattr(TargetingIndex, "mask", counted)
    ends = utc(2026, 11, 27, 12, 0, 30)
    market = Market(
        [
            make_ad_group(ad_group_id="stays", advertiser_id="a"),
            make_ad_group(ad_group_id="ends", advertiser_id="b", campaign_end=ends),
        ],
        0.02,
    )
    ahead = market.live_mask(utc(2026, 11, 27, 12, 1, 5))  # asked for during 12:00
    now = market.live_mask(utc(2026, 11, 27, 12, 0, 50))
    assert len(worked_out) == 2
    assert market.live_mask(utc(2026, 11, 27, 12, 1, 59)) == ahead  # not worked out again
    assert market.live_mask(utc(2026, 11, 27, 12, 0, 1)) == now  # nor is this minute's
    assert len(worked_out) == 2
    assert bin(now).count("1") == 2 and bin(ahead).count("1") == 1  # "ends" ended at 12:00:30
    market.live_mask(utc(2026, 11, 27, 12, 3))
    market.live_mask(utc(2026, 11, 27, 12, 0, 1))  # more than a minute away: forgotten
    assert len(worked_out) == 4

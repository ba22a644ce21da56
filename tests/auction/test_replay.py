"""Replaying logged auctions with another model's pCTRs."""

import numpy as np
import pytest

from auction.features import FEATURE_NAMES
from auction.pricing import Slot
from auction.replay import LoggedAuction, replay
from auction.types import CPC, CPM, Bid, FeedItem, ReservePrices

RESERVES = ReservePrices(cpm_micros=1_000_000, cpc_micros=10_000)
SLOT = Slot(3, (FeedItem("v", "c", "comedy"),))
POSITION = FEATURE_NAMES.index("position")
MARK = FEATURE_NAMES.index("log_bid_micros")  # any column but the position


def rows(count: int) -> np.ndarray:
    """Feature rows scored at the first slot; each marked with its index, so scorers can
    tell the candidates apart."""
    features = np.zeros((count, len(FEATURE_NAMES)))
    features[:, MARK] = np.arange(count)
    features[:, POSITION] = SLOT.position
    return features


def auction():
    bids = (
        Bid("cpm", "adv_a", CPM, 5_000_000, 0.01),
        Bid("cpc", "adv_b", CPC, 400_000, 0.01),
    )
    return LoggedAuction((SLOT,), bids, rows(2))


def by_row(cpm_pctr, cpc_pctr):
    return lambda features: np.where(features[:, MARK] == 0, cpm_pctr, cpc_pctr)


def test_the_same_model_changes_nothing():
    scorer = by_row(0.01, 0.01)
    report = replay([auction()] * 3, scorer, scorer, scorer, RESERVES)
    assert report.auctions == 3 and report.changed == 0
    assert report.active == report.candidate
    assert report.change("revenue_micros") == 0.0


def test_a_model_that_rates_the_cpc_ad_higher_changes_the_winner_and_the_money():
    active, candidate = by_row(0.01, 0.01), by_row(0.01, 0.02)
    report = replay([auction()], active, candidate, candidate, RESERVES)
    assert report.changed == 1
    # Active: CPM 5,000,000 beats CPC 400,000 x 0.01 x 1000 = 4,000,000 and pays that, per
    # mille: 4,000 micros for the impression.
    assert report.active.revenue_micros == pytest.approx(4_000)
    assert report.active.clicks == pytest.approx(0.01)  # the referee's pCTR of the CPM ad
    # Candidate: CPC eCPM 8,000,000 wins, pays 5,000,000 / (0.02 x 1000) = 250,000 a click,
    # and the referee expects 0.02 clicks: 5,000 micros.
    assert report.candidate.revenue_micros == pytest.approx(5_000)
    assert report.candidate.clicks == pytest.approx(0.02)
    assert report.change("revenue_micros") == pytest.approx(0.25)


def test_auctions_without_candidates_are_not_counted():
    empty = LoggedAuction((SLOT,), (), rows(0))
    scorer = by_row(0.01, 0.01)
    report = replay([empty], scorer, scorer, scorer, RESERVES)
    assert report.auctions == 0 and report.change("clicks") is None


def test_each_slot_is_replayed_at_its_position():
    """The CPC ads' pCTR halves from the first slot (position 3) to the second (8); the CPM
    ad's does not. Scored at the first slot only, the second CPC ad would take the second
    slot; scored there, the CPM ad does."""
    later = Slot(8, (FeedItem("w", "c", "comedy"),))
    bids = (
        Bid("cpm", "adv_a", CPM, 5_000_000, 0.01),
        Bid("cpc_1", "adv_b", CPC, 400_000, 0.02),
        Bid("cpc_2", "adv_c", CPC, 300_000, 0.02),
    )
    logged = LoggedAuction((SLOT, later), bids, rows(3))

    def scorer(features):
        first = features[:, POSITION] == SLOT.position
        return np.where(features[:, MARK] == 0, 0.01, np.where(first, 0.02, 0.01))

    report = replay([logged], scorer, scorer, scorer, RESERVES)
    # Slot 1: cpc_1 (400,000 x 0.02 x 1000 = 8,000,000) over cpc_2 (6,000,000) and the CPM
    # ad (5,000,000) pays 6,000,000 / (0.02 x 1000) = 300,000 a click, x 0.02 clicks.
    # Slot 2: the CPM ad (5,000,000) over cpc_2 (300,000 x 0.01 x 1000 = 3,000,000): 3,000
    # micros for the impression, and its 0.01 clicks there.
    assert report.active.impressions == 2
    assert report.active.revenue_micros == pytest.approx(6_000 + 3_000)
    assert report.active.clicks == pytest.approx(0.02 + 0.01)


def test_after_an_empty_slot_the_next_is_replayed_where_its_ad_moves_up_to():
    """Nobody may sit by the first slot's neighbour, so the second slot's ad moves up from
    8 to 7, and is ranked and priced at the pCTRs there: 0.02 for the CPC ad, not 0.01."""
    risky = Slot(3, (FeedItem("v", "c_risky", "news"),))
    later = Slot(8, (FeedItem("w", "c", "comedy"),))
    shy = frozenset({"news"})
    bids = (
        Bid("cpm", "adv_a", CPM, 5_000_000, 0.02, excluded_categories=shy),
        Bid("cpc", "adv_b", CPC, 400_000, 0.02, excluded_categories=shy),
    )
    logged = LoggedAuction((risky, later), bids, rows(2))

    def scorer(features):
        return np.where(features[:, POSITION] <= 7, 0.02, 0.01)

    report = replay([logged], scorer, scorer, scorer, RESERVES)
    # At 7 the CPC ad (400,000 x 0.02 x 1000 = 8,000,000) beats the CPM ad (5,000,000) and
    # pays 5,000,000 / (0.02 x 1000) = 250,000 a click, x 0.02 clicks. At 8's pCTR (eCPM
    # 4,000,000) the CPM ad would have won and paid 4,000 for the impression.
    assert report.active.impressions == 1
    assert report.active.revenue_micros == pytest.approx(250_000 * 0.02)
    assert report.active.clicks == pytest.approx(0.02)

"""Click-through history: each level shrunk towards the one above, only the past counted."""

import math

import pytest

from auction.history import (
    DEFAULT_PLATFORM_CTR,
    EMPTY_HISTORY,
    SHRINKAGE_IMPRESSIONS,
    Counts,
    CtrHistory,
    HistoryRecorder,
)
from tests.auction.test_engine import group


def make_group(ad_group_id, advertiser_id):
    return group(ad_group_id, advertiser_id, bid=1_000_000)


def test_with_no_data_every_level_is_the_platform_default():
    ad_group_ctr, ad_group_volume, advertiser_ctr, advertiser_volume = EMPTY_HISTORY.features(
        make_group("g1", "adv1")
    )
    assert ad_group_ctr == advertiser_ctr == DEFAULT_PLATFORM_CTR
    assert ad_group_volume == advertiser_volume == 0


def test_a_new_ad_group_starts_at_its_advertisers_rate():
    history = CtrHistory(
        {"g1": Counts(100_000, 5_000)},
        {"adv1": Counts(100_000, 5_000)},
        Counts(1_000_000, 20_000),
    )
    new_ctr, new_volume, advertiser_ctr, _ = history.features(make_group("g2", "adv1"))
    assert new_volume == 0
    assert new_ctr == pytest.approx(advertiser_ctr)
    assert advertiser_ctr == pytest.approx(0.05, rel=0.01)  # its own, barely shrunk
    # A new advertiser starts at the platform's rate.
    stranger_ctr, *_ = history.features(make_group("g3", "adv2"))
    assert stranger_ctr == pytest.approx(history.platform_ctr)
    assert history.platform_ctr == pytest.approx(0.02, rel=0.01)


def test_a_rate_moves_from_the_prior_to_its_own_as_impressions_arrive():
    platform = Counts(1_000_000, 20_000)
    few = CtrHistory({"g1": Counts(10, 5)}, {"adv1": Counts(10, 5)}, platform)
    many = CtrHistory({"g1": Counts(10_000, 5_000)}, {"adv1": Counts(10_000, 5_000)}, platform)
    few_ctr, *_ = few.features(make_group("g1", "adv1"))
    many_ctr, volume, *_ = many.features(make_group("g1", "adv1"))
    assert 0.02 < few_ctr < 0.2 < many_ctr < 0.5
    assert many_ctr == pytest.approx(0.5, rel=0.02)
    assert volume == pytest.approx(math.log1p(10_000))
    # Exactly: clicks plus pseudo-clicks at the level above, over impressions plus pseudo ones.
    advertiser = (5 + SHRINKAGE_IMPRESSIONS * few.platform_ctr) / (10 + SHRINKAGE_IMPRESSIONS)
    assert few_ctr == pytest.approx((5 + SHRINKAGE_IMPRESSIONS * advertiser) / 110)


def test_the_recorder_counts_only_what_it_observed_before():
    recorder = HistoryRecorder()
    g1, g2 = make_group("g1", "adv1"), make_group("g2", "adv1")
    before = recorder.features(g1)
    recorder.observe(g1, clicked=True)
    recorder.observe(g2, clicked=False)
    after = recorder.snapshot_of(g1)
    assert before == EMPTY_HISTORY.features(g1)
    assert after.ad_groups == {"g1": Counts(1, 1)}
    assert after.advertisers == {"adv1": Counts(2, 1)}
    assert after.platform == Counts(2, 1)
    assert recorder.features(g1) == after.features(g1)


def test_the_recorders_history_holds_every_level():
    recorder = HistoryRecorder()
    g1, g2 = make_group("g1", "adv1"), make_group("g2", "adv2")
    for clicked in (True, False, False):
        recorder.observe(g1, clicked)
    recorder.observe(g2, clicked=True)
    history = recorder.history()
    assert history.ad_groups == {"g1": Counts(3, 1), "g2": Counts(1, 1)}
    assert history.advertisers == {"adv1": Counts(3, 1), "adv2": Counts(1, 1)}
    assert history.platform == Counts(4, 2)

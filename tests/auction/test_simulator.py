"""The market simulator: deterministic for a seed, plausible, and learnable."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from auction import features, simulator
from auction.history import Counts, CtrHistory
from auction.simulator import ClickModel, ImpressionRecord
from auction.types import CPC, CPM, AdGroup, User

NOW = datetime(2025, 3, 14, 12, 30, tzinfo=UTC)
SEED = 11


@pytest.fixture(scope="module")
def users() -> list[User]:
    return simulator.make_users(2_000, SEED)


@pytest.fixture(scope="module")
def market() -> list[AdGroup]:
    return simulator.make_market(30, 4, SEED, NOW)


@pytest.fixture(scope="module")
def impressions(users, market) -> list[ImpressionRecord]:
    return simulator.simulate_impressions(users, market, 40_000, SEED, NOW)


# ----------------------------------------------------------------------------- users


def test_users_are_the_same_for_a_seed_and_differ_for_another():
    assert simulator.make_users(300, 5) == simulator.make_users(300, 5)
    assert simulator.make_users(300, 5) != simulator.make_users(300, 6)


def test_users_are_plausible(users):
    assert len({user.id for user in users}) == len(users)
    assert all(re.fullmatch(r"user_sim_\d{6}", user.id) for user in users)
    for user in users:
        languages = {language for language, _ in simulator.COUNTRIES[user.country][1]}
        assert user.language in languages
        assert user.age_group in (*simulator.AGE_GROUPS, None)
        assert user.gender in (*simulator.GENDERS, None)
        assert user.os in simulator.OPERATING_SYSTEMS
        assert 1 <= len(user.interests) <= 4
        assert user.interests <= set(simulator.INTERESTS)
        assert user.timezone in simulator.USER_TIMEZONES[user.country]
    assert {user.timezone for user in users if user.country == "US"} == set(
        simulator.USER_TIMEZONES["US"]
    )
    countries = {user.country for user in users}
    assert countries == set(simulator.COUNTRIES)
    us_share = sum(user.country == "US" for user in users) / len(users)
    assert 0.25 < us_share < 0.45  # weighted, not uniform
    assert any(user.age_group is None for user in users)


def test_there_are_about_30_interests():
    assert 25 <= len(set(simulator.INTERESTS)) == len(simulator.INTERESTS) <= 40
    assert {"gaming", "beauty", "fitness", "cooking", "travel"} <= set(simulator.INTERESTS)


# ----------------------------------------------------------------------------- market


def test_market_is_the_same_for_a_seed_and_differs_for_another():
    assert simulator.make_market(5, 3, 1, NOW) == simulator.make_market(5, 3, 1, NOW)
    assert simulator.make_market(5, 3, 1, NOW) != simulator.make_market(5, 3, 2, NOW)


def test_market_ids_are_unique_and_well_formed(market):
    assert len(market) == 30 * 4
    assert len({group.ad_group_id for group in market}) == len(market)
    assert len({group.advertiser_id for group in market}) == 30
    ad_ids = [ad.ad_id for group in market for ad in group.ads]
    assert len(set(ad_ids)) == len(ad_ids)
    for group in market:
        number = re.fullmatch(r"adv_sim_(\d{4})", group.advertiser_id).group(1)
        assert re.fullmatch(rf"adg_sim_{number}_\d{{2}}", group.ad_group_id)
        assert re.fullmatch(rf"cmp_sim_{number}_\d{{2}}", group.campaign_id)
        assert all(re.fullmatch(rf"ad_sim_{number}_\d{{2}}_\d", ad.ad_id) for ad in group.ads)
    assert market[0].advertiser_id == "adv_sim_0001"
    assert market[1].ad_group_id == "adg_sim_0001_02"


def test_bids_are_integer_micros_in_realistic_ranges(market):
    for group in market:
        assert isinstance(group.bid_micros, int)
        if group.billing_event == CPM:
            assert 1_000_000 <= group.bid_micros <= 20_000_000
        else:
            assert group.billing_event == CPC
            assert 50_000 <= group.bid_micros <= 2_000_000
            assert group.objective != "REACH"
    assert {group.billing_event for group in market} == {CPM, CPC}
    assert {group.objective for group in market} == {"TRAFFIC", "VIDEO_VIEWS", "REACH"}


def test_ad_groups_are_servable_now(market):
    for group in market:
        assert NOW - timedelta(days=30) <= group.campaign_start < NOW
        assert group.campaign_end is None or NOW < group.campaign_end <= NOW + timedelta(days=30)
        assert ZoneInfo(group.timezone)
        assert group.ads and all(ad.creative.landing_url.startswith("https://") for ad in group.ads)
        assert group.campaign_budget.mode in ("DAILY", "LIFETIME")
        assert group.campaign_budget.amount_micros > 0
        assert isinstance(group.campaign_budget.amount_micros, int)


def test_ad_groups_of_a_campaign_share_it(market):
    by_campaign: dict[str, list[AdGroup]] = {}
    for group in market:
        by_campaign.setdefault(group.campaign_id, []).append(group)
    for groups in by_campaign.values():
        assert len({(g.objective, g.campaign_budget, g.campaign_start) for g in groups}) == 1


def test_targeting_is_often_broad_and_sometimes_narrow(market):
    broad = [group for group in market if group.targeting == type(group.targeting)()]
    assert 0.3 < len(broad) / len(market) < 0.7
    assert any(group.targeting.countries for group in market)
    interest_targeted = [group for group in market if group.targeting.interests]
    assert interest_targeted
    for group in interest_targeted:
        # Advertisers target their own vertical (and sometimes neighbours).
        assert simulator.advertiser_vertical(group.advertiser_id) in group.targeting.interests


# ----------------------------------------------------------------------------- clicks


def test_click_probability_is_clipped_and_deterministic(users, market):
    model = ClickModel(SEED)
    probabilities = [
        model.probability(user, group, position, NOW)
        for user in users[:50]
        for group in market[:20]
        for position in (0, 15)
    ]
    assert all(simulator.MIN_TRUE_CTR <= p <= simulator.MAX_TRUE_CTR for p in probabilities)
    again = ClickModel(SEED)
    assert again.probability(users[0], market[0], 0, NOW) == probabilities[0]
    assert ClickModel(SEED + 1).quality(market[0].ad_group_id) != model.quality(
        market[0].ad_group_id
    )


def test_viewers_click_more_in_their_evening_and_less_at_night(market):
    model = ClickModel(SEED)
    tokyo = User(id="u", os="ios", age_group="25-34", timezone="Asia/Tokyo")
    # 12:00 UTC is 21:00 in Tokyo; 18:00 UTC is 03:00 in Tokyo; 03:00 UTC is noon.
    evening, night, noon = (datetime(2025, 6, 2, hour, tzinfo=UTC) for hour in (12, 18, 3))
    by_time = [model.probability(tokyo, market[0], 0, moment) for moment in (evening, noon, night)]
    assert by_time == sorted(by_time, reverse=True) and len(set(by_time)) == 3
    # The same moments in UTC are noon, evening and night.
    utc = replace(tokyo, timezone=None)
    evening_utc = model.probability(utc, market[0], 0, datetime(2025, 6, 2, 20, tzinfo=UTC))
    assert evening_utc == pytest.approx(by_time[0])
    assert model.probability(utc, market[0], 0, evening) == pytest.approx(by_time[1])


def test_deeper_slots_click_less(users, market):
    model = ClickModel(SEED)
    for group in market[:10]:
        by_position = [model.probability(users[0], group, position, NOW) for position in range(16)]
        assert by_position == sorted(by_position, reverse=True)
        assert by_position[0] > by_position[15]


def test_interested_users_click_more(market):
    model = ClickModel(SEED)
    group = market[0]
    vertical = simulator.advertiser_vertical(group.advertiser_id)
    other = next(interest for interest in simulator.INTERESTS if interest != vertical)
    interested = User(id="a", interests=frozenset({vertical}))
    indifferent = User(id="b", interests=frozenset({other}))
    targeted = replace(group, targeting=replace(group.targeting, interests=frozenset({other})))
    assert model.probability(interested, group, 0, NOW) > model.probability(
        indifferent, group, 0, NOW
    )
    assert model.probability(indifferent, targeted, 0, NOW) > model.probability(
        indifferent, group, 0, NOW
    )


def test_click_draws_from_the_given_generator(users, market):
    model = ClickModel(SEED)
    p = model.probability(users[0], market[0], 0, NOW)
    draws = [model.click(users[0], market[0], 0, NOW, np.random.default_rng(3)) for _ in range(3)]
    assert len(set(draws)) == 1  # the same generator state gives the same outcome
    rng = np.random.default_rng(4)
    clicks = sum(model.click(users[0], market[0], 0, NOW, rng) for _ in range(20_000))
    assert clicks / 20_000 == pytest.approx(p, rel=0.25)


# ----------------------------------------------------------------------------- impressions


def test_impressions_are_the_same_for_a_seed_and_differ_for_another(users, market):
    first = simulator.simulate_impressions(users, market, 2_000, 3, NOW)
    assert first == simulator.simulate_impressions(users, market, 2_000, 3, NOW)
    assert first != simulator.simulate_impressions(users, market, 2_000, 4, NOW)


def test_impressions_are_spread_over_the_day_before_now(impressions):
    times = [record.at for record in impressions]
    assert times == sorted(times)
    assert NOW - timedelta(days=1) < times[0] and times[-1] <= NOW
    hours = {record.at.hour for record in impressions}
    assert len(hours) == 24
    assert {record.position for record in impressions} == set(range(16))


def test_click_rates_are_plausible(impressions):
    clicked = np.array([record.clicked for record in impressions], dtype=float)
    true_p = np.array([record.true_p for record in impressions])
    assert 0.005 < clicked.mean() < 0.05
    assert clicked.mean() == pytest.approx(true_p.mean(), rel=0.10)
    # Positions near the top of the feed click more than those near the bottom.
    positions = np.array([record.position for record in impressions])
    assert clicked[positions < 4].mean() > clicked[positions >= 12].mean()


def test_recorded_probability_is_the_click_models(impressions):
    model = ClickModel(SEED)
    for record in impressions[:200]:
        expected = model.probability(record.user, record.ad_group, record.position, record.at)
        assert record.true_p == expected


def test_training_rows_use_the_serving_features(impressions):
    records = impressions[:500]
    rows = simulator.training_rows(records)
    assert rows.X.shape == (500, len(features.FEATURE_NAMES))
    assert rows.y.tolist() == [float(record.clicked) for record in records]
    for index in (0, 123, 499):
        record = records[index]
        # The history features count only the impressions before this one.
        earlier = records[:index]
        group = record.ad_group
        own = [r for r in earlier if r.ad_group.ad_group_id == group.ad_group_id]
        advertiser = [r for r in earlier if r.ad_group.advertiser_id == group.advertiser_id]
        history = CtrHistory(
            {group.ad_group_id: Counts(len(own), sum(r.clicked for r in own))},
            {group.advertiser_id: Counts(len(advertiser), sum(r.clicked for r in advertiser))},
            Counts(len(earlier), sum(r.clicked for r in earlier)),
        )
        expected = features.matrix(record.user, [group], [record.position], record.at, history)
        assert np.array_equal(rows.X[index], expected[0])
    assert simulator.training_rows([]).X.shape == (0, len(features.FEATURE_NAMES))

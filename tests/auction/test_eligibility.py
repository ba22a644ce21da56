"""The per-request rules, with times worked out by hand in the advertiser's time zone.

Calendar facts used below: 2026-03-08 and 2026-11-01 are Sundays; New York moves from EST
(UTC-5) to EDT (UTC-4) at 2026-03-08 07:00 UTC and back at 2026-11-01 06:00 UTC; Kolkata is
UTC+5:30 all year; Los Angeles is on PDT (UTC-7) in June.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from auction.eligibility import (
    balance_allows,
    brand_safe,
    budget_allows,
    eligible,
    frequency_allows,
    in_daypart,
    in_flight,
    local_day,
    local_time,
    pacing_allows,
)
from auction.types import CPM, AdGroup, Budget, FeedItem, Spend, Targeting
from tests.auction.builders import AD

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
END = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
SUNDAY = 6 * 24  # hour of the week at which Sunday starts


def make_ad_group(**overrides: object) -> AdGroup:
    """A CPM ad group in New York, in flight from START to END, with a 100-unit daily
    campaign budget and no other limit; overrides replace any field."""
    ad_group = AdGroup(
        ad_group_id="adg-1",
        campaign_id="cmp-1",
        advertiser_id="adv-1",
        objective="AWARENESS",
        billing_event=CPM,
        bid_micros=4_000_000,
        targeting=Targeting(),
        ads=(AD,),
        timezone="America/New_York",
        campaign_start=START,
        campaign_end=END,
        campaign_budget=Budget("DAILY", 100_000_000),
    )
    return replace(ad_group, **overrides)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


# Flight dates


def test_flight_start_is_inclusive():
    ad_group = make_ad_group()
    assert in_flight(ad_group, START)
    assert not in_flight(ad_group, START - MICROSECOND)


def test_flight_end_is_exclusive():
    ad_group = make_ad_group()
    assert in_flight(ad_group, END - MICROSECOND)
    assert not in_flight(ad_group, END)


def test_a_campaign_without_end_runs_on():
    ad_group = make_ad_group(campaign_end=None)
    assert in_flight(ad_group, utc(2040, 1, 1))
    assert not in_flight(ad_group, START - MICROSECOND)


# Dayparting


def test_no_dayparting_serves_at_any_hour():
    ad_group = make_ad_group(dayparting=None)
    assert all(in_daypart(ad_group, utc(2026, 3, 9) + timedelta(hours=h)) for h in range(168))


def test_hour_zero_is_monday_midnight_in_the_advertisers_zone():
    ad_group = make_ad_group(timezone="UTC", dayparting=frozenset({0}))
    assert in_daypart(ad_group, utc(2026, 3, 9, 0, 0))  # Monday
    assert in_daypart(ad_group, utc(2026, 3, 9, 0, 59))
    assert not in_daypart(ad_group, utc(2026, 3, 9, 1, 0))
    assert not in_daypart(ad_group, utc(2026, 3, 8, 23, 59))  # Sunday, hour 167


def test_dayparting_follows_the_local_wall_clock_across_the_spring_dst_change():
    monday_noon = make_ad_group(dayparting=frozenset({12}))
    # Monday noon in New York is 17:00 UTC while on EST and 16:00 UTC once on EDT.
    assert in_daypart(monday_noon, utc(2026, 3, 2, 17, 30))
    assert not in_daypart(monday_noon, utc(2026, 3, 2, 16, 30))
    assert in_daypart(monday_noon, utc(2026, 3, 9, 16, 30))
    assert not in_daypart(monday_noon, utc(2026, 3, 9, 17, 30))


def test_the_hour_skipped_by_the_spring_change_never_serves_that_sunday():
    one_am = make_ad_group(dayparting=frozenset({SUNDAY + 1}))
    two_am = make_ad_group(dayparting=frozenset({SUNDAY + 2}))  # does not exist that day
    three_am = make_ad_group(dayparting=frozenset({SUNDAY + 3}))
    assert in_daypart(one_am, utc(2026, 3, 8, 6, 59))  # 01:59 EST
    assert in_daypart(three_am, utc(2026, 3, 8, 7, 0))  # 03:00 EDT
    day = [utc(2026, 3, 8) + timedelta(minutes=m) for m in range(24 * 60)]
    assert not any(in_daypart(two_am, now) for now in day)
    # The next Sunday has it again: 02:30 EDT is 06:30 UTC.
    assert in_daypart(two_am, utc(2026, 3, 15, 6, 30))


def test_the_hour_repeated_by_the_autumn_change_serves_twice_as_long():
    one_am = make_ad_group(dayparting=frozenset({SUNDAY + 1}))
    assert not in_daypart(one_am, utc(2026, 11, 1, 4, 59))  # 00:59 EDT
    assert in_daypart(one_am, utc(2026, 11, 1, 5, 30))  # 01:30 EDT
    assert in_daypart(one_am, utc(2026, 11, 1, 6, 30))  # 01:30 EST
    assert not in_daypart(one_am, utc(2026, 11, 1, 7, 0))  # 02:00 EST
    day = [utc(2026, 11, 1) + timedelta(minutes=m) for m in range(24 * 60)]
    assert sum(in_daypart(one_am, now) for now in day) == 120


def test_dayparting_in_a_half_hour_offset_zone():
    monday_first_hour = make_ad_group(timezone="Asia/Kolkata", dayparting=frozenset({0}))
    # Monday 00:00 in Kolkata is Sunday 18:30 UTC.
    assert not in_daypart(monday_first_hour, utc(2026, 3, 8, 18, 29))
    assert in_daypart(monday_first_hour, utc(2026, 3, 8, 18, 30))
    assert in_daypart(monday_first_hour, utc(2026, 3, 8, 19, 29))
    assert not in_daypart(monday_first_hour, utc(2026, 3, 8, 19, 30))
    # Monday 00:00 UTC is 05:30 in Kolkata: hour 5.
    assert not in_daypart(monday_first_hour, utc(2026, 3, 9, 0, 0))
    assert in_daypart(replace(monday_first_hour, dayparting=frozenset({5})), utc(2026, 3, 9))


# The advertiser's day


def test_the_local_day_changes_at_local_midnight_not_utc_midnight():
    new_york = make_ad_group()
    assert local_day(new_york, utc(2026, 3, 10, 0, 0)) == date(2026, 3, 9)  # 20:00 EDT
    assert local_day(new_york, utc(2026, 3, 10, 3, 59)) == date(2026, 3, 9)
    assert local_day(new_york, utc(2026, 3, 10, 4, 0)) == date(2026, 3, 10)
    # In winter the New York day starts an hour later in UTC.
    assert local_day(new_york, utc(2026, 1, 10, 4, 59)) == date(2026, 1, 9)
    assert local_day(new_york, utc(2026, 1, 10, 5, 0)) == date(2026, 1, 10)
    kolkata = make_ad_group(timezone="Asia/Kolkata")
    assert local_day(kolkata, utc(2026, 3, 9, 18, 29)) == date(2026, 3, 9)
    assert local_day(kolkata, utc(2026, 3, 9, 18, 30)) == date(2026, 3, 10)


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        local_day(make_ad_group(), datetime(2026, 3, 9, 12, 0))


# Budgets


class DailyCounters:
    """Stands in for the shared counter store: spend keyed by the advertiser's local day."""

    def __init__(self, ad_group: AdGroup) -> None:
        self.ad_group = ad_group
        self.by_day: dict[date, int] = {}

    def spend(self, now: datetime) -> Spend:
        today = self.by_day.get(local_day(self.ad_group, now), 0)
        lifetime = sum(self.by_day.values())
        return Spend(
            ad_group_today_micros=today,
            ad_group_lifetime_micros=lifetime,
            campaign_today_micros=today,
            campaign_lifetime_micros=lifetime,
        )

    def record(self, now: datetime, micros: int) -> None:
        day = local_day(self.ad_group, now)
        self.by_day[day] = self.by_day.get(day, 0) + micros


def test_a_daily_budget_stops_the_local_day_and_resumes_the_next_local_day():
    ad_group = make_ad_group(campaign_budget=Budget("DAILY", 10_000_000))
    counters = DailyCounters(ad_group)
    afternoon = utc(2026, 3, 10, 20, 0)  # 16:00 EDT on 10 March
    served = 0
    while budget_allows(ad_group, counters.spend(afternoon)):
        counters.record(afternoon, 1_000_000)
        served += 1
    assert served == 10
    # Past UTC midnight it is still 10 March in New York: still stopped.
    assert not budget_allows(ad_group, counters.spend(utc(2026, 3, 11, 0, 30)))
    assert not budget_allows(ad_group, counters.spend(utc(2026, 3, 11, 3, 59)))
    # Local midnight (04:00 UTC) starts a new day with its own, empty, counter.
    assert counters.spend(utc(2026, 3, 11, 4, 0)).campaign_today_micros == 0
    assert budget_allows(ad_group, counters.spend(utc(2026, 3, 11, 4, 0)))


def test_daily_budget_boundaries():
    ad_group = make_ad_group(campaign_budget=Budget("DAILY", 10_000_000))
    assert budget_allows(ad_group, Spend(campaign_today_micros=9_999_999))
    assert not budget_allows(ad_group, Spend(campaign_today_micros=10_000_000))
    # What was spent on earlier days does not count against today.
    assert budget_allows(ad_group, Spend(campaign_lifetime_micros=10**12))


def test_a_lifetime_budget_counts_lifetime_spend():
    ad_group = make_ad_group(campaign_budget=Budget("LIFETIME", 5_000_000))
    assert budget_allows(ad_group, Spend(campaign_lifetime_micros=4_999_999))
    assert not budget_allows(ad_group, Spend(campaign_lifetime_micros=5_000_000))
    assert budget_allows(ad_group, Spend(campaign_today_micros=10**12))


def test_the_campaign_budget_is_shared_with_the_other_ad_groups():
    ad_group = make_ad_group(campaign_budget=Budget("DAILY", 10_000_000))
    spend = Spend(ad_group_today_micros=0, campaign_today_micros=10_000_000)
    assert not budget_allows(ad_group, spend)


def test_an_ad_group_budget_tighter_than_the_campaigns_stops_first():
    ad_group = make_ad_group(
        campaign_budget=Budget("DAILY", 100_000_000),
        ad_group_budget=Budget("DAILY", 10_000_000),
    )
    assert budget_allows(
        ad_group, Spend(ad_group_today_micros=9_999_999, campaign_today_micros=9_999_999)
    )
    assert not budget_allows(
        ad_group, Spend(ad_group_today_micros=10_000_000, campaign_today_micros=10_000_000)
    )


def test_an_ad_group_lifetime_budget_under_a_daily_campaign_budget():
    ad_group = make_ad_group(
        campaign_budget=Budget("DAILY", 100_000_000),
        ad_group_budget=Budget("LIFETIME", 30_000_000),
    )
    assert budget_allows(ad_group, Spend(ad_group_lifetime_micros=29_999_999))
    assert not budget_allows(ad_group, Spend(ad_group_lifetime_micros=30_000_000))


def test_an_unknown_budget_mode_is_an_error():
    with pytest.raises(ValueError):
        budget_allows(make_ad_group(campaign_budget=Budget("WEEKLY", 1)), Spend())


# Pacing


def daily(amount: int, timezone: str = "UTC", **overrides: object) -> AdGroup:
    return make_ad_group(
        timezone=timezone, campaign_budget=Budget("DAILY", amount), campaign_end=None, **overrides
    )


def test_pacing_allows_the_elapsed_share_plus_half_an_hour():
    ad_group = daily(4_800_000)  # slack 100_000; a quarter of the day is 1_200_000
    six_am = utc(2026, 3, 10, 6, 0)
    assert pacing_allows(ad_group, Spend(campaign_today_micros=1_300_000), six_am)
    assert not pacing_allows(ad_group, Spend(campaign_today_micros=1_300_001), six_am)


def test_the_day_starts_with_the_slack():
    ad_group = daily(4_800_000)
    midnight = utc(2026, 3, 10)
    assert pacing_allows(ad_group, Spend(campaign_today_micros=100_000), midnight)
    assert not pacing_allows(ad_group, Spend(campaign_today_micros=100_001), midnight)


def test_the_slack_is_at_least_one_micro():
    ad_group = daily(10)
    midnight = utc(2026, 3, 10)
    assert pacing_allows(ad_group, Spend(campaign_today_micros=1), midnight)
    assert not pacing_allows(ad_group, Spend(campaign_today_micros=2), midnight)


def test_pacing_is_exact_for_budgets_that_do_not_divide_evenly():
    # 1_000_003 / 3 = 333_334.33; slack 1_000_003 // 48 = 20_833; allowance 354_167.33.
    ad_group = daily(1_000_003)
    eight_am = utc(2026, 3, 10, 8, 0)
    assert pacing_allows(ad_group, Spend(campaign_today_micros=354_167), eight_am)
    assert not pacing_allows(ad_group, Spend(campaign_today_micros=354_168), eight_am)


def test_pacing_uses_the_real_length_of_a_25_hour_day():
    # 2026-11-01 in New York: midnight EDT is 04:00 UTC, noon EST is 17:00 UTC, the day
    # lasts 25 hours, so noon is 13/25 of it. 2_400_000 * 13 / 25 + 50_000 = 1_298_000.
    ad_group = daily(2_400_000, "America/New_York")
    noon = utc(2026, 11, 1, 17, 0)
    assert pacing_allows(ad_group, Spend(campaign_today_micros=1_298_000), noon)
    assert not pacing_allows(ad_group, Spend(campaign_today_micros=1_298_001), noon)


def test_pacing_uses_the_real_length_of_a_23_hour_day():
    # 2026-03-08 in New York: midnight EST is 05:00 UTC, noon EDT is 16:00 UTC, 11 of 23
    # hours. 2_300_000 * 11 / 23 + 2_300_000 // 48 = 1_100_000 + 47_916 = 1_147_916.
    ad_group = daily(2_300_000, "America/New_York")
    noon = utc(2026, 3, 8, 16, 0)
    assert pacing_allows(ad_group, Spend(campaign_today_micros=1_147_916), noon)
    assert not pacing_allows(ad_group, Spend(campaign_today_micros=1_147_917), noon)


def test_pacing_counts_from_midnight_in_a_half_hour_offset_zone():
    # 00:30 UTC is 06:00 in Kolkata: a quarter of the day, as in the UTC case above.
    ad_group = daily(4_800_000, "Asia/Kolkata")
    six_am = utc(2026, 3, 10, 0, 30)
    assert pacing_allows(ad_group, Spend(campaign_today_micros=1_300_000), six_am)
    assert not pacing_allows(ad_group, Spend(campaign_today_micros=1_300_001), six_am)


def test_an_ad_group_daily_budget_is_paced_too():
    ad_group = make_ad_group(
        timezone="UTC",
        campaign_budget=Budget("LIFETIME", 10**12),
        ad_group_budget=Budget("DAILY", 4_800_000),
    )
    six_am = utc(2026, 3, 10, 6, 0)
    on_pace = Spend(ad_group_today_micros=1_300_000, campaign_lifetime_micros=10**11)
    assert pacing_allows(ad_group, on_pace, six_am)
    ahead = replace(on_pace, ad_group_today_micros=1_300_001)
    assert not pacing_allows(ad_group, ahead, six_am)


def test_the_campaign_daily_budget_is_paced_even_when_the_ad_group_is_on_pace():
    ad_group = daily(4_800_000, ad_group_budget=Budget("DAILY", 4_800_000))
    six_am = utc(2026, 3, 10, 6, 0)
    spend = Spend(ad_group_today_micros=0, campaign_today_micros=1_300_001)
    assert not pacing_allows(ad_group, spend, six_am)


def test_lifetime_budgets_are_not_paced():
    ad_group = make_ad_group(campaign_budget=Budget("LIFETIME", 10_000_000))
    spend = Spend(campaign_today_micros=9_999_999, campaign_lifetime_micros=9_999_999)
    assert pacing_allows(ad_group, spend, utc(2026, 3, 10, 5, 0))  # 01:00 in New York


def test_accelerated_is_never_paced():
    ad_group = daily(4_800_000, pacing="ACCELERATED")
    assert pacing_allows(ad_group, Spend(campaign_today_micros=4_799_999), utc(2026, 3, 10))


def simulate_day(ad_group: AdGroup, first_minute: datetime, minutes: int, cost: int) -> list[int]:
    """Spend after each minute of a day, serving once a minute whenever `eligible` allows."""
    spent = 0
    after_each_minute = []
    for minute in range(minutes):
        now = first_minute + timedelta(minutes=minute)
        spend = Spend(campaign_today_micros=spent, campaign_lifetime_micros=spent)
        reason = eligible(
            ad_group, now=now, spend=spend, impressions_in_window=0, remaining_balance_micros=None
        )
        assert reason == eligible(
            ad_group,
            now=now,
            spend=spend,
            impressions_in_window=0,
            remaining_balance_micros=None,
            local=local_time(ad_group, now),
        )
        if reason is None:
            spent += cost
        after_each_minute.append(spent)
    return after_each_minute


BUDGET = 100_000_000
COST = 1_000_000  # each serve; the budget lasts 100 serves
SLACK = BUDGET // 48


def test_standard_pacing_spreads_the_budget_over_the_local_day():
    ad_group = daily(BUDGET, "America/Los_Angeles")
    local_midnight = utc(2026, 6, 10, 7, 0)  # PDT
    spent = simulate_day(ad_group, local_midnight, 24 * 60, COST)

    at_noon = spent[12 * 60 - 1]
    assert BUDGET * 45 // 100 <= at_noon <= BUDGET * 55 // 100
    for minute, total in enumerate(spent, start=1):
        target = Fraction(BUDGET * minute, 24 * 60)
        assert total <= min(BUDGET, target + SLACK + COST), minute
    for hour in range(1, 24):
        # Once past the first minutes it keeps within one serve of target + slack.
        target = Fraction(BUDGET * hour, 24)
        assert abs(spent[hour * 60 - 1] - target) <= SLACK + COST, hour
    assert spent[-1] == BUDGET


def test_standard_pacing_spreads_the_budget_over_a_25_hour_day():
    ad_group = daily(BUDGET, "America/New_York")
    local_midnight = utc(2026, 11, 1, 4, 0)  # EDT; the day ends at 05:00 UTC (EST)
    minutes = 25 * 60
    spent = simulate_day(ad_group, local_midnight, minutes, COST)
    for hour in range(1, 25):
        target = Fraction(BUDGET * hour, 25)
        assert abs(spent[hour * 60 - 1] - target) <= SLACK + COST, hour
    assert spent[-1] == BUDGET


def test_accelerated_spends_the_budget_in_the_first_hours():
    ad_group = daily(BUDGET, "America/Los_Angeles", pacing="ACCELERATED")
    local_midnight = utc(2026, 6, 10, 7, 0)
    spent = simulate_day(ad_group, local_midnight, 24 * 60, COST)
    assert spent[99] == BUDGET  # a serve every minute: 100 serves by 01:40
    assert spent[98] == BUDGET - COST
    assert spent[-1] == BUDGET


# Frequency caps, balance, brand safety


def test_no_frequency_cap_never_stops():
    assert frequency_allows(make_ad_group(frequency_cap=None), 10**6)


def test_a_frequency_cap_stops_at_the_maximum():
    ad_group = make_ad_group(frequency_cap=(3, 24))
    assert frequency_allows(ad_group, 0)
    assert frequency_allows(ad_group, 2)
    assert not frequency_allows(ad_group, 3)
    assert not frequency_allows(ad_group, 4)


@pytest.mark.parametrize(
    ("remaining", "allowed"), [(None, True), (1, True), (10**9, True), (0, False), (-5, False)]
)
def test_balance(remaining, allowed):
    assert balance_allows(remaining) is allowed


SAFE_AD_GROUP = make_ad_group(
    targeting=Targeting(
        excluded_creators=frozenset({"creator-bad"}),
        excluded_categories=frozenset({"politics"}),
    )
)


def test_brand_safe_next_to_allowed_videos():
    neighbours = [
        FeedItem("v1", "creator-ok", "comedy"),
        FeedItem("v2", "creator-ok-2", None),
    ]
    assert brand_safe(SAFE_AD_GROUP, neighbours)
    assert brand_safe(SAFE_AD_GROUP, [])


def test_not_brand_safe_next_to_an_excluded_creator():
    neighbours = [FeedItem("v1", "creator-ok", "comedy"), FeedItem("v2", "creator-bad", "pets")]
    assert not brand_safe(SAFE_AD_GROUP, neighbours)


def test_not_brand_safe_next_to_an_excluded_category():
    neighbours = iter([FeedItem("v1", "creator-ok", "politics")])  # any iterable will do
    assert not brand_safe(SAFE_AD_GROUP, neighbours)


def test_no_exclusions_is_safe_anywhere():
    assert brand_safe(make_ad_group(), [FeedItem("v1", "creator-bad", "politics")])


# eligible: the rules combined


NOON_MONDAY_NEW_YORK = utc(2026, 3, 9, 16, 0)  # 12:00 EDT, hour of the week 12


def check(ad_group: AdGroup, **overrides: object) -> str | None:
    request = {
        "now": NOON_MONDAY_NEW_YORK,
        "spend": Spend(),
        "impressions_in_window": 0,
        "remaining_balance_micros": 50_000_000,
    }
    request = {**request, **overrides}
    reason = eligible(ad_group, **request)
    # The engine passes the local time it converted once per time zone: the same answer.
    assert eligible(ad_group, **request, local=local_time(ad_group, request["now"])) == reason
    return reason


def test_eligible_when_every_rule_passes():
    ad_group = make_ad_group(frequency_cap=(3, 24), dayparting=frozenset({12}))
    assert check(ad_group, spend=Spend(campaign_today_micros=40_000_000)) is None


@pytest.mark.parametrize(
    ("overrides", "request_overrides", "reason"),
    [
        ({"campaign_end": utc(2026, 3, 9, 16, 0)}, {}, "not_in_flight"),
        ({"campaign_start": utc(2026, 3, 9, 16, 1)}, {}, "not_in_flight"),
        ({"dayparting": frozenset({13, 14})}, {}, "outside_daypart"),
        ({}, {"spend": Spend(campaign_today_micros=100_000_000)}, "budget_exhausted"),
        # At local noon the allowance is 50_000_000 + 2_083_333.
        ({}, {"spend": Spend(campaign_today_micros=52_083_334)}, "paced"),
        ({"frequency_cap": (3, 24)}, {"impressions_in_window": 3}, "frequency_capped"),
        ({}, {"remaining_balance_micros": 0}, "no_balance"),
    ],
)
def test_eligible_names_the_rule_that_failed(overrides, request_overrides, reason):
    assert check(make_ad_group(**overrides), **request_overrides) == reason


def test_eligible_lets_an_unenforced_balance_serve():
    assert check(make_ad_group(), remaining_balance_micros=None) is None


def test_an_accelerated_ad_group_ahead_of_pace_is_eligible():
    ad_group = make_ad_group(pacing="ACCELERATED")
    assert check(ad_group, spend=Spend(campaign_today_micros=99_999_999)) is None


def test_eligible_reports_the_first_failing_rule_in_the_documented_order():
    ad_group = make_ad_group(frequency_cap=(3, 24), dayparting=frozenset({13}))
    everything_fails = {
        "now": START - MICROSECOND,
        "remaining_balance_micros": 0,
        "spend": Spend(campaign_today_micros=100_000_000),
        "impressions_in_window": 3,
    }
    fixes = [
        ("not_in_flight", {"now": NOON_MONDAY_NEW_YORK}),
        ("no_balance", {"remaining_balance_micros": 1}),
        # Under budget but far ahead of the noon allowance of 52_083_333.
        ("budget_exhausted", {"spend": Spend(campaign_today_micros=99_000_000)}),
        ("frequency_capped", {"impressions_in_window": 0}),
    ]
    request = everything_fails
    for reason, fix in fixes:
        assert check(ad_group, **request) == reason
        request = {**request, **fix}
    assert check(ad_group, **request) == "outside_daypart"
    assert check(replace(ad_group, dayparting=frozenset({12})), **request) == "paced"

"""The counters budgets, pacing and caps read: in-process, and in Redis across instances."""

from datetime import UTC, date, datetime, timedelta

import pytest

from adsmanager.serving.counters import Charge, InProcessCounters, RedisCounters, SpendKey
from adsmanager.serving.runtime import CounterState
from auction.engine import ChunkCounts
from auction.types import AdGroup, Budget, Spend, Targeting

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
KEY = SpendKey("adg_1", "cmp_1", date(2026, 11, 27))


def _exercise(writer, reader):
    writer.add(
        [
            Charge(KEY, 300, NOW, ("u1", "imp_1")),
            Charge(KEY, 200, NOW + timedelta(hours=1), ("u1", "imp_2")),
            Charge(SpendKey("adg_2", "cmp_1", KEY.day), 50, NOW, advertiser_id="adv_1"),
            Charge(KEY, 0, NOW, ("u1", "imp_3"), advertiser_id="adv_1"),
            Charge(KEY, 70, NOW, advertiser_id="adv_2"),
        ]
    )
    assert reader.advertiser_spend(["adv_1", "adv_2", "adv_3"]) == [50, 70, 0]
    today = [
        ("adg", "adg_1", KEY.day),
        ("adg", "adg_1", None),
        ("cmp", "cmp_1", KEY.day),
        ("cmp", "cmp_1", None),
    ]
    next_day = [("adg", "adg_1", date(2026, 11, 28)), ("cmp", "cmp_1", date(2026, 11, 28))]
    later = NOW + timedelta(hours=2)
    windows = [("adg_1", 24), ("adg_1", 1), ("adg_2", 24)]
    assert reader.read(today + next_day, "u1", windows, ["adv_2", "adv_1"], later) == (
        [570, 570, 620, 620, 0, 0],
        [3, 0, 0],
        [70, 50],
    )
    assert reader.read([], "u2", [("adg_1", 24)], [], later) == ([], [0], [])
    assert reader.read(today[2:], "u1", [], [], later) == ([620, 620], [], [])
    assert reader.read([], "u1", [], ["adv_3"], later) == ([], [], [0])


def test_in_process_counters():
    counters = InProcessCounters()
    _exercise(counters, counters)


def test_redis_counters_are_shared_between_instances(redis_url):
    """Two workers (two clients): what one adds, the other reads."""
    _exercise(RedisCounters(redis_url), RedisCounters(redis_url))


def test_redis_counters_across_two_app_instances(redis_url, app, db, admin, acme, feed):
    """Events posted to one app exhaust a budget that another app (worker) enforces."""
    from dataclasses import replace

    from adsmanager.serving.runtime import Serving
    from tests.api.test_auction import CPM, ads_of, auction, servable
    from tests.api.test_events import post_events

    settings = replace(
        app.extensions["adsmanager.settings"], redis_url=redis_url, snapshot_refresh_seconds=0
    )
    first, second = Serving(settings, db), Serving(settings, db)
    servable(admin, acme[1], {"budget_micros": 300}, **CPM, pacing="ACCELERATED")
    try:
        for number in range(3):
            app.extensions["adsmanager.serving"] = first
            [placed] = ads_of(auction(feed, request_id=f"r{number}"))
            post_events(feed, [placed["tracking"]["impression"]])
        app.extensions["adsmanager.serving"] = second
        assert ads_of(auction(feed, request_id="after")) == []
    finally:
        app.extensions.pop("adsmanager.serving", None)


def test_redis_keys_expire_and_old_views_are_trimmed(redis_url):
    """Daily spend keys and frequency keys expire, lifetime ones do not; a batch with many
    events for one key trims that key's views older than the longest window."""
    import redis

    from adsmanager.serving.counters import LONGEST_WINDOW_SECONDS

    client = redis.Redis.from_url(redis_url)
    counters = RedisCounters(redis_url)
    counters.add([Charge(KEY, 0, NOW, ("u1", "imp_old"))])
    month_later = NOW + timedelta(seconds=LONGEST_WINDOW_SECONDS + 60)
    # The batch's latest view sets the cut: the old view goes, the batch's earlier one stays.
    counters.add(
        [
            Charge(KEY, 10, month_later, ("u1", f"imp_{number}"), advertiser_id="adv_1")
            for number in range(4)
        ]
        + [Charge(KEY, 10, NOW + timedelta(hours=1), ("u1", "imp_4"), advertiser_id="adv_1")]
    )
    assert client.zrange("freq:adg_1:u1", 0, -1) == [f"imp_{n}".encode() for n in (4, 0, 1, 2, 3)]
    day = KEY.day.isoformat()
    assert client.get(f"spend:adg:adg_1:{day}") == b"50"
    assert client.get("spend:adv:adv_1") == b"50"
    for name in (f"spend:adg:adg_1:{day}", f"spend:cmp:cmp_1:{day}"):
        assert 0 < client.ttl(name) <= RedisCounters.DAY_TTL_SECONDS
    assert 0 < client.ttl("freq:adg_1:u1") <= LONGEST_WINDOW_SECONDS
    for name in ("spend:adg:adg_1", "spend:cmp:cmp_1", "spend:adv:adv_1"):
        assert client.ttl(name) == -1


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
def test_frequency_window_edges(shared, request):
    counters = (
        RedisCounters(request.getfixturevalue("redis_url")) if shared else InProcessCounters()
    )
    counters.add([Charge(KEY, 0, NOW, ("u", "imp_a"))])
    assert counters.read([], "u", [("adg_1", 1)], [], NOW + timedelta(minutes=59))[1] == [1]
    assert counters.read([], "u", [("adg_1", 1)], [], NOW + timedelta(hours=1))[1] == [0]


def _ad_group(number: int, **fields) -> AdGroup:
    return AdGroup(
        **{
            "ad_group_id": f"adg_{number}",
            "campaign_id": "cmp_1",
            "advertiser_id": "adv_1",
            "objective": "TRAFFIC",
            "billing_event": "CPM",
            "bid_micros": 1,
            "targeting": Targeting(),
            "ads": (),
            "timezone": "UTC",
            "campaign_start": NOW - timedelta(days=9),
            "campaign_end": None,
            "campaign_budget": Budget("DAILY", 10**9),
            **fields,
        }
    )


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
def test_counter_state_reads_a_chunk_at_once(shared, request):
    """Spend per ad group (only the totals its budgets count), the viewer's impressions for
    the capped ones only, and (with no balances enforced) no limit per advertiser."""
    counters = (
        RedisCounters(request.getfixturevalue("redis_url")) if shared else InProcessCounters()
    )
    lifetime = Budget("LIFETIME", 10**9)
    ad_groups = [
        _ad_group(1, frequency_cap=(2, 24), ad_group_budget=Budget("DAILY", 10**6)),
        _ad_group(2, campaign_id="cmp_2", advertiser_id="adv_2"),
        _ad_group(3, frequency_cap=(1, 1), ad_group_budget=lifetime),
        _ad_group(4, campaign_budget=lifetime),
    ]
    counters.add(
        [
            Charge(KEY, 300, NOW - timedelta(hours=2), ("u1", "imp_1")),
            Charge(KEY, 200, NOW, ("u1", "imp_2")),
            Charge(SpendKey("adg_3", "cmp_1", KEY.day), 40, NOW, ("u1", "imp_3")),
            Charge(SpendKey("adg_3", "cmp_1", KEY.day), 40, NOW, ("u2", "imp_4")),
            Charge(SpendKey("adg_4", "cmp_1", KEY.day - timedelta(days=1)), 9, NOW),
        ]
    )
    counts = CounterState(counters, balances=None).read("u1", ad_groups, NOW)
    assert counts == ChunkCounts(
        [Spend(500, 0, 580, 0), Spend(0, 0, 0, 0), Spend(0, 80, 580, 0), Spend(0, 0, 0, 589)],
        {"adg_1": 2, "adg_3": 1},
        {"adv_1": None, "adv_2": None},
    )


def test_counter_state_reads_spend_on_each_ad_groups_local_day():
    """CounterState keeps each time zone's day for a minute: it must read the same spend as
    asking for each ad group's local day afresh."""
    from auction.eligibility import local_day

    counters = InProcessCounters()
    zones = ("America/New_York", "Asia/Tokyo", "UTC")
    budget = Budget("DAILY", 10**9)
    ad_groups = [
        _ad_group(i, campaign_id=f"cmp_{i % 4}", timezone=zones[i % 3], ad_group_budget=budget)
        for i in range(12)
    ]
    # Charges on the local day at NOW and the days either side, in every zone.
    for i, day in enumerate((date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28))):
        counters.add(
            Charge(SpendKey(g.ad_group_id, g.campaign_id, day), 10**i * (n + 1), NOW)
            for n, g in enumerate(ad_groups)
        )
    state = CounterState(counters, balances=None)
    for now in (NOW, NOW + timedelta(hours=13), NOW - timedelta(hours=13)):
        spends = state.read("u1", ad_groups, now).spends
        keys = [
            key
            for g in ad_groups
            for key in (
                ("adg", g.ad_group_id, local_day(g, now)),
                ("cmp", g.campaign_id, local_day(g, now)),
            )
        ]
        totals = counters.read(keys, "u1", [], [], now).totals
        assert spends == [Spend(g, 0, c, 0) for g, c in zip(totals[::2], totals[1::2], strict=True)]
        assert len({s.ad_group_today_micros for s in spends}) > 3  # days and groups differ

"""Spend counters start from the spend the database has recorded: a restarted worker
(in-process counters) or a flushed Redis must not serve a budget that is already spent."""

import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from adsmanager.db.delivery import DeliveryHour
from adsmanager.db.models import AdGroup, Advertiser, Campaign
from adsmanager.services import events
from adsmanager.serving.counters import Charge, InProcessCounters, RedisCounters, SpendKey
from adsmanager.serving.recorded_spend import (
    PeriodicCatchUp,
    RecordedSpend,
    catch_up,
    recorded_spend,
)
from adsmanager.serving.runtime import Serving
from tests.api.test_auction import CPM, ads_of, auction, servable
from tests.api.test_events import charged, post_events
from tests.factories import create_advertiser, make_ad, make_ad_group, make_campaign

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _serve_until_stopped(feed, prefix: str) -> int:
    """Auctions (reporting each ad's impression) until no ad is placed; how many placed."""
    for number in range(30):
        placed = ads_of(auction(feed, request_id=f"{prefix}{number}"))
        if not placed:
            return number
        post_events(feed, [placed[0]["tracking"]["impression"]])
    raise AssertionError("the budget never stopped the ad group")


def _spend_a_lifetime_budget(api, admin, feed) -> None:
    lifetime = {"budget_mode": "LIFETIME", "budget_micros": 1_000}  # 10 impressions
    servable(admin, api, lifetime, **CPM, pacing="ACCELERATED")
    assert _serve_until_stopped(feed, "before") == 10


def _restart(app, settings, db) -> Serving:
    restarted = Serving(settings, db)
    app.extensions["adsmanager.serving"] = restarted
    return restarted


def test_a_restarted_worker_does_not_serve_a_spent_lifetime_budget(
    app, admin, acme, feed, serving, db
):
    _spend_a_lifetime_budget(acme[1], admin, feed)
    assert charged(db) == 1_000
    # A new runtime on the same database: a deploy, a crash, gunicorn's max_requests.
    restarted = _restart(app, serving.settings, db)
    try:
        assert ads_of(auction(feed, request_id="after")) == []
    finally:
        restarted.logs.flush()
    assert charged(db) == 1_000


def test_a_flushed_redis_is_raised_to_the_recorded_spend(
    redis_url, app, admin, acme, feed, serving, db
):
    import redis

    settings = replace(serving.settings, redis_url=redis_url)
    runtimes = [_restart(app, settings, db)]
    try:
        _spend_a_lifetime_budget(acme[1], admin, feed)
        redis.Redis.from_url(redis_url).flushdb()  # lost: no persistence, an eviction
        runtimes.append(_restart(app, settings, db))
        assert ads_of(auction(feed, request_id="after")) == []
    finally:
        for runtime in runtimes:
            runtime.logs.flush()
    assert charged(db) == 1_000


def test_todays_spend_is_counted_on_each_advertisers_local_day(admin, acme, db):
    # Acme is in New York (UTC-5 on 2026-11-27); Kolkata is UTC+5:30.
    kolkata, kolkata_api = create_advertiser(admin, "Chai", timezone="Asia/Kolkata")
    rows = []
    for advertiser, api in (acme, (kolkata, kolkata_api)):
        campaign = make_campaign(api)
        group = make_ad_group(api, campaign["id"])
        ad = make_ad(api, group["id"])
        rows.append((advertiser["id"], campaign["id"], group["id"], ad["id"]))

    def hour(advertiser_id, campaign_id, ad_group_id, ad_id, at, micros):
        return DeliveryHour(
            ad_id=ad_id,
            hour=at,
            ad_group_id=ad_group_id,
            campaign_id=campaign_id,
            advertiser_id=advertiser_id,
            impressions=1,
            clicks=0,
            spend_micros=micros,
        )

    new_york, india = rows
    with db.transaction() as session:
        session.add_all(
            [
                # New York's day began at 05:00 UTC.
                hour(*new_york, datetime(2026, 11, 27, 4, tzinfo=UTC), 1),  # yesterday
                hour(*new_york, datetime(2026, 11, 27, 5, tzinfo=UTC), 20),
                hour(*new_york, datetime(2026, 11, 27, 11, tzinfo=UTC), 300),
                # Kolkata's 2026-11-27 began at 18:30 UTC the day before, inside an hour that
                # counts towards the new day in full; it ends at 18:30 UTC, after NOW.
                hour(*india, datetime(2026, 11, 26, 17, tzinfo=UTC), 4_000),  # yesterday
                hour(*india, datetime(2026, 11, 26, 18, tzinfo=UTC), 50_000),
                hour(*india, datetime(2026, 11, 27, 11, tzinfo=UTC), 600_000),
                # Older than any time zone's today.
                hour(*india, datetime(2026, 11, 20, 11, tzinfo=UTC), 7_000_000),
            ]
        )
    day = date(2026, 11, 27)
    totals = recorded_spend(db, NOW)
    assert totals == {
        ("adg", new_york[2], day): 320,
        ("cmp", new_york[1], day): 320,
        ("adg", india[2], day): 650_000,
        ("cmp", india[1], day): 650_000,
    }


def test_lifetime_spend_is_read_for_lifetime_budgets_only(acme, db):
    api = acme[1]
    lifetime = make_campaign(api, budget_mode="LIFETIME", budget_micros=10**9)
    daily = make_campaign(api)
    groups = {
        "in lifetime campaign": make_ad_group(api, lifetime["id"]),
        "own lifetime budget": make_ad_group(
            api, daily["id"], budget_mode="LIFETIME", budget_micros=10**9
        ),
        "daily only": make_ad_group(api, daily["id"]),
    }
    long_ago = NOW - timedelta(days=30)
    with db.transaction() as session:
        for number, group in enumerate(groups.values()):
            ad = make_ad(api, group["id"])
            session.add(
                DeliveryHour(
                    ad_id=ad["id"],
                    hour=long_ago,
                    ad_group_id=group["id"],
                    campaign_id=group["campaign_id"],
                    advertiser_id=acme[0]["id"],
                    impressions=1,
                    clicks=0,
                    spend_micros=10**number,
                )
            )
    assert recorded_spend(db, NOW) == {
        ("cmp", lifetime["id"], None): 1,
        ("adg", groups["own lifetime budget"]["id"], None): 10,
    }


def test_later_calls_read_only_what_can_have_changed(admin, acme, db):
    """A RecordedSpend keeps the sums of the hours that are over. A later call agrees with
    a fresh read, but for a row that appeared in an hour already over (which the events
    path never writes): that shows the kept hours were not read again."""
    advertiser, api = acme  # in New York: its 2026-11-27 runs from 05:00 to 05:00 UTC
    lifetime = make_campaign(api, budget_mode="LIFETIME", budget_micros=10**9)
    daily = make_campaign(api)
    in_lifetime = make_ad_group(api, lifetime["id"])
    made_lifetime = make_ad_group(api, daily["id"])
    ads = {group["id"]: make_ad(api, group["id"])["id"] for group in (in_lifetime, made_lifetime)}

    def spend(group, at, micros):
        with db.transaction() as session:
            session.merge(
                DeliveryHour(
                    ad_id=ads[group["id"]],
                    hour=at,
                    ad_group_id=group["id"],
                    campaign_id=group["campaign_id"],
                    advertiser_id=advertiser["id"],
                    impressions=1,
                    clicks=0,
                    spend_micros=micros,
                )
            )

    with db.transaction() as session:  # changed long before the first call
        for table in (Advertiser, Campaign, AdGroup):
            session.execute(update(table).values(updated_at=NOW - timedelta(hours=1)))
    spend(in_lifetime, NOW - timedelta(days=30), 1)
    spend(made_lifetime, NOW - timedelta(days=30), 10)
    spend(in_lifetime, NOW - timedelta(hours=1), 100)  # not over yet at NOW
    kept = RecordedSpend(db)
    assert kept(NOW) == recorded_spend(db, NOW)
    assert kept(NOW)[("cmp", lifetime["id"], None)] == 101

    response = api.patch(
        f"/v1/ad-groups/{made_lifetime['id']}",
        json={"budget_mode": "LIFETIME", "budget_micros": 10**9},
    )
    assert response.status_code == 200, response.get_json()
    spend(in_lifetime, NOW - timedelta(hours=1), 200)  # the same hour, later
    spend(in_lifetime, NOW, 1_000)
    spend(made_lifetime, NOW + timedelta(hours=1), 10_000)
    stray = 100_000
    spend(in_lifetime, NOW - timedelta(hours=2), stray)  # in an hour kept as over
    later = NOW + timedelta(hours=2)
    day = date(2026, 11, 27)
    fresh = recorded_spend(db, later)
    assert fresh[("cmp", lifetime["id"], day)] == 200 + 1_000 + stray
    assert kept(later) == fresh | {
        ("cmp", lifetime["id"], None): 1 + 200 + 1_000,
        ("cmp", lifetime["id"], day): 200 + 1_000,
        ("adg", in_lifetime["id"], day): 200 + 1_000,
    }
    assert fresh[("adg", made_lifetime["id"], None)] == 10 + 10_000

    # New York's next day: the hours of the day before drop out, the new day's add up.
    spend(in_lifetime, datetime(2026, 11, 28, 5, tzinfo=UTC), 7)
    next_day = datetime(2026, 11, 28, 6, 10, tzinfo=UTC)
    fresh = recorded_spend(db, next_day)
    assert fresh[("adg", in_lifetime["id"], date(2026, 11, 28))] == 7
    assert kept(next_day) == fresh | {("cmp", lifetime["id"], None): 1_208}

    # A change of an advertiser (its time zone, say) reads today's hours again, the one
    # kept as over too.
    spend(made_lifetime, datetime(2026, 11, 28, 5, tzinfo=UTC), 50)
    response = admin.patch(f"/v1/advertisers/{advertiser['id']}", json={"name": "Acme 2"})
    assert response.status_code == 200, response.get_json()
    again = next_day + timedelta(seconds=10)
    assert kept(again) == recorded_spend(db, again) | {("cmp", lifetime["id"], None): 1_208}

    # A clock that went back reads everything again.
    assert kept(NOW) == recorded_spend(db, NOW)


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
def test_raising_spend_never_lowers_a_counter(shared, request):
    counters = (
        RedisCounters(request.getfixturevalue("redis_url")) if shared else InProcessCounters()
    )
    day = date(2026, 11, 27)
    counters.add([Charge(SpendKey("adg_1", "cmp_1", day), 500, NOW)])
    counters.raise_spend(
        {
            ("adg", "adg_1", day): 400,  # below the count: kept at 500
            ("adg", "adg_1", None): 900,
            ("cmp", "cmp_1", day): 700,
            ("cmp", "cmp_2", None): 10**15,  # more than a double prints as an integer
        }
    )
    totals = [
        (level, owner_id, when)
        for level, owner_id in (
            ("adg", "adg_1"),
            ("cmp", "cmp_1"),
            ("adg", "adg_2"),
            ("cmp", "cmp_2"),
        )
        for when in (day, None)
    ]
    assert counters.read(totals, "u", [], [], NOW).totals == [500, 900, 700, 500, 0, 0, 0, 10**15]
    counters.add([Charge(SpendKey("adg_2", "cmp_2", day), 1, NOW)])
    assert counters.read(totals[4:], "u", [], [], NOW).totals == [1, 1, 1, 10**15 + 1]
    if shared:
        import redis

        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        assert 0 < client.ttl(f"spend:cmp:cmp_1:{day}") <= RedisCounters.DAY_TTL_SECONDS
        assert client.ttl("spend:adg:adg_1") == -1


def test_in_process_workers_catch_up_with_each_others_spend(app, admin, acme, feed, serving, db):
    """Each worker's in-process counters see its own charges; a catch-up adds the others'
    from the database, and a budget spent through one worker then stops the other."""
    other = Serving(serving.settings, db)
    servable(admin, acme[1], {"budget_micros": 300}, **CPM, pacing="ACCELERATED")
    try:
        for number in range(3):  # spent through the fixture's worker
            [placed] = ads_of(auction(feed, request_id=f"spend{number}"))
            post_events(feed, [placed["tracking"]["impression"]])
        app.extensions["adsmanager.serving"] = other
        assert len(ads_of(auction(feed, request_id="unaware"))) == 1
        catch_up(RecordedSpend(db), other.counters)
        assert ads_of(auction(feed, request_id="caught-up")) == []
    finally:
        app.extensions["adsmanager.serving"] = serving
        other.logs.flush()
    assert charged(db) == 300


def test_a_worker_catches_up_on_its_own(app, admin, acme, feed, serving, db):
    """The catch-up runs in the background every ``spend_refresh_seconds``, on the balance
    refresher's thread (which, like every refresher, runs for the rest of the process)."""
    fast = replace(serving.settings, spend_refresh_seconds=0.2, balance_refresh_seconds=0.2)
    other = Serving(fast, db)
    servable(admin, acme[1], {"budget_micros": 100}, **CPM, pacing="ACCELERATED")
    try:
        [placed] = ads_of(auction(feed, request_id="spend"))
        post_events(feed, [placed["tracking"]["impression"]])
        app.extensions["adsmanager.serving"] = other
        deadline = time.monotonic() + 10
        while ads_of(auction(feed, request_id=f"other{time.monotonic()}")):
            assert time.monotonic() < deadline, "the other worker never caught up"
            time.sleep(0.05)
    finally:
        app.extensions["adsmanager.serving"] = serving
        other.logs.flush()


def test_a_periodic_catch_up_waits_its_interval_and_takes_at_most_its_share(db):
    """Every ``every`` seconds; after a catch-up that took t seconds, not before t / share."""
    clock = [90.0]
    catch_ups = []

    class Timed(InProcessCounters):
        took = 0.0

        def raise_spend(self, totals) -> None:
            catch_ups.append(clock[0])
            clock[0] += self.took

    counters = Timed()
    step = PeriodicCatchUp(
        RecordedSpend(db), counters, every=10, share=0.01, clock=lambda: clock[0]
    )
    for now in (95.0, 100.0, 105.0, 110.0):  # quick ones: every 10 s
        clock[0] = now
        step()
    assert catch_ups == [100.0, 110.0]
    counters.took = 0.5  # slow ones: every 50 s
    for now in (120.0, 130.0, 169.0, 170.0, 180.0, 220.5):
        clock[0] = now
        step()
    assert catch_ups == [100.0, 110.0, 120.0, 170.0, 220.5]


class _PausedAdd(InProcessCounters):
    """Counters whose ``add`` waits, as if the worker were descheduled between the events'
    commit and their count."""

    def __init__(self) -> None:
        super().__init__()
        self.committed, self.resume = threading.Event(), threading.Event()

    def add(self, charges) -> None:
        self.committed.set()
        assert self.resume.wait(10)
        super().add(charges)


def test_a_catch_up_never_counts_a_charge_that_add_will_count(admin, acme, feed, serving, db):
    lifetime = {"budget_mode": "LIFETIME", "budget_micros": 1_000_000}  # caught up with too
    group, _ = servable(admin, acme[1], lifetime, **CPM)
    [placed] = ads_of(auction(feed, request_id="r"))
    counters = _PausedAdd()
    token = placed["tracking"]["impression"]
    charging = threading.Thread(
        target=events.ingest, args=(db, counters, serving.signer, [token], datetime.now(UTC))
    )
    charging.start()
    assert counters.committed.wait(10)
    catching_up = threading.Thread(target=catch_up, args=(RecordedSpend(db), counters))
    catching_up.start()
    catching_up.join(0.5)  # without the lock it reads the committed charge and raises to it
    counters.resume.set()
    charging.join(10)
    catching_up.join(10)
    assert not charging.is_alive() and not catching_up.is_alive()
    assert charged(db) == 100
    assert counters.read([("cmp", group["campaign_id"], None)], "u", [], [], NOW).totals == [100]

"""The snapshot: what is servable, and refreshes that read only what changed."""

from datetime import UTC, datetime

from adsmanager.serving.snapshot import SnapshotHolder
from auction.targeting import TargetingIndex
from auction.types import User
from tests.factories import make_ad, make_ad_group, make_campaign


def test_refresh_follows_every_kind_of_change(admin, acme, db):
    api = acme[1]
    holder = SnapshotHolder(db, refresh_seconds=0, prior_ctr=0.02)
    campaign = make_campaign(api)
    group = make_ad_group(api, campaign["id"], billing_event="CPM", bid_micros=2_000_000)
    ad = make_ad(api, group["id"])
    assert holder.current().ad_groups == {}  # not approved yet
    assert holder.refresh() is False

    admin.post(f"/v1/ads/{ad['id']}/review", json={"decision": "APPROVE"})
    assert holder.refresh() is True
    served = holder.current().ad_groups[group["id"]]
    assert served.bid_micros == 2_000_000 and served.timezone == "America/New_York"
    assert [a.ad_id for a in served.ads] == [ad["id"]]
    assert served.targeting.countries == frozenset({"US"})
    assert holder.refresh() is False  # nothing changed: the same snapshot stays

    api.patch(f"/v1/ad-groups/{group['id']}", json={"bid_micros": 3_000_000})
    assert holder.refresh() is True
    assert holder.current().ad_groups[group["id"]].bid_micros == 3_000_000

    api.patch(f"/v1/campaigns/{campaign['id']}", json={"status": "PAUSED"})
    assert holder.refresh() is True and holder.current().ad_groups == {}
    api.patch(f"/v1/campaigns/{campaign['id']}", json={"status": "ACTIVE"})
    assert holder.refresh() is True and group["id"] in holder.current().ad_groups

    admin.patch(f"/v1/advertisers/{acme[0]['id']}", json={"status": "SUSPENDED"})
    assert holder.refresh() is True and holder.current().ad_groups == {}
    admin.patch(f"/v1/advertisers/{acme[0]['id']}", json={"status": "ACTIVE"})
    assert holder.refresh() is True
    assert holder.current().ad_groups[group["id"]].industry is None
    admin.patch(f"/v1/advertisers/{acme[0]['id']}", json={"industry": "pets"})
    assert holder.refresh() is True
    assert holder.current().ad_groups[group["id"]].industry == "pets"

    api.patch(f"/v1/ads/{ad['id']}", json={"creative": {"caption": "new words"}})
    assert holder.refresh() is True and holder.current().ad_groups == {}  # back in review


def test_the_market_orders_by_prior_ecpm(admin, acme, globex, db):
    from tests.api.test_auction import servable

    low, _ = servable(admin, acme[1], billing_event="CPM", bid_micros=1_000_000, targeting={})
    high, _ = servable(
        admin, globex[1], billing_event="CPC", bid_micros=1_000_000, targeting={}
    )  # prior eCPM 1,000,000 x 0.02 x 1000 = 20,000,000
    snapshot = SnapshotHolder(db, refresh_seconds=0, prior_ctr=0.02).current()
    assert [g.ad_group_id for g in snapshot.market.ad_groups] == [high["id"], low["id"]]


def test_equal_values_are_shared_between_ad_groups(admin, acme, globex, db):
    from tests.api.test_auction import servable

    first, _ = servable(admin, acme[1], billing_event="CPM", bid_micros=1_000_000)
    second, _ = servable(admin, globex[1], billing_event="CPM", bid_micros=1_000_000)
    groups = SnapshotHolder(db, refresh_seconds=0, prior_ctr=0.02).current().ad_groups
    assert groups[first["id"]].targeting is groups[second["id"]].targeting


def test_the_first_stage_follows_the_click_through_history(admin, acme, globex, db):
    from auction.history import Counts, CtrHistory
    from tests.api.test_auction import servable

    cpm, _ = servable(admin, acme[1], billing_event="CPM", bid_micros=1_000_000, targeting={})
    cpc, _ = servable(admin, globex[1], billing_event="CPC", bid_micros=1_000_000, targeting={})
    history = {"now": CtrHistory()}  # empty: every CPC bid at the platform's default rate
    holder = SnapshotHolder(db, refresh_seconds=0, prior_ctr=0.02, history=lambda: history["now"])
    assert [g.ad_group_id for g in holder.current().market.ad_groups] == [cpc["id"], cpm["id"]]
    assert holder.refresh() is False  # neither the ad groups nor the history changed

    # The history is reloaded: the CPC ad group turns out to be clicked 1 time in 10,000,
    # so its eCPM is about 100,000 and the CPM bid of 1,000,000 goes first.
    seen = Counts(10_000_000, 1_000)
    history["now"] = CtrHistory({cpc["id"]: seen}, {globex[0]["id"]: seen}, seen)
    assert holder.refresh() is True
    snapshot = holder.current()
    assert [g.ad_group_id for g in snapshot.market.ad_groups] == [cpm["id"], cpc["id"]]
    assert snapshot.market.history is history["now"]
    assert holder.refresh() is False


def test_requests_find_the_minutes_live_ad_groups_worked_out(admin, acme, db, monkeypatch):
    api = acme[1]
    group = make_ad_group(api, make_campaign(api)["id"])
    ad = make_ad(api, group["id"])
    admin.post(f"/v1/ads/{ad['id']}/review", json={"decision": "APPROVE"})
    holder = SnapshotHolder(db, refresh_seconds=0, prior_ctr=0.02)
    market = holder.current().market
    worked_out = []
    monkeypatch.setattr(TargetingIndex, "mask", lambda index, keep: worked_out.append(1))
    # The holder worked this minute out when it built the snapshot (and the next minute's,
    # were it about to begin), so a request does not.
    assert [
        g.ad_group_id
        for g in market.candidates(User("u", country="US", age_group="18-24"), datetime.now(UTC))
    ]
    assert worked_out == []

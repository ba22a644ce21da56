"""POST /v1/auction: the feed with priced ads inserted, straight from the snapshot."""

import time

import pytest
from sqlalchemy import select

from adsmanager.db.delivery import AuctionLog, ServedAd
from tests.factories import make_ad, make_ad_group, make_campaign

FEED = [{"video_id": f"v{i}", "creator_id": f"c{i}", "category": "comedy"} for i in range(10)]
USER = {
    "id": "user-1",
    "country": "US",
    "language": "en",
    "age_group": "18-24",
    "gender": "female",
    "os": "ios",
    "interests": ["gaming"],
}


def auction(feed_api, **overrides):
    body = {"request_id": "req-1", "user": USER, "feed": FEED, **overrides}
    response = feed_api.post("/v1/auction", json=body)
    assert response.status_code == 200, response.json
    return response.json


def ads_of(response):
    return [item for item in response["items"] if item["type"] == "ad"]


def servable(admin, api, campaign: dict | None = None, **ad_group):
    """A campaign (its fields as ``campaign`` says, else a 100 USD daily budget), an ad group
    and an approved ad of the advertiser behind ``api``."""
    campaign = make_campaign(api, **{"budget_micros": 100_000_000, **(campaign or {})})
    group = make_ad_group(api, campaign["id"], **ad_group)
    ad = make_ad(api, group["id"])
    assert admin.post(f"/v1/ads/{ad['id']}/review", json={"decision": "APPROVE"}).status_code == 200
    return group, ad


CPM = {"billing_event": "CPM", "bid_micros": 5_000_000, "targeting": {}}


def test_brand_safety_and_targeting_ignore_the_case_the_feed_service_writes(
    admin, acme, feed, serving
):
    targeting = {"countries": ["US"], "interests": ["gaming"], "excluded_categories": ["news"]}
    servable(admin, acme[1], **{**CPM, "targeting": targeting})
    user = {**USER, "country": "us", "interests": ["Gaming"]}
    assert len(ads_of(auction(feed, user=user))) == 1
    # Every item is "News": no slot may take the ad, whatever the case.
    news = [{**item, "category": "News"} for item in FEED]
    response = auction(feed, request_id="req-2", user=user, feed=news)
    assert ads_of(response) == []
    assert {item["category"] for item in response["items"]} == {"News"}  # echoed as sent


def test_a_single_bidder_is_inserted_at_the_reserve(admin, acme, feed, serving):
    group, ad = servable(admin, acme[1], **CPM)
    response = auction(feed)
    assert response["request_id"] == "req-1"
    assert response["model_version"] == "prior"
    items = response["items"]
    assert len(items) == 11
    assert [item["position"] for item in items] == list(range(11))
    [placed] = ads_of(response)
    assert placed["position"] == 3  # after three organic items (the default policy)
    assert placed["ad_id"] == ad["id"] and placed["ad_group_id"] == group["id"]
    assert placed["campaign_id"] == group["campaign_id"]
    assert placed["advertiser_id"] == acme[0]["id"]
    assert placed["billing_event"] == "CPM"
    # Alone, it pays the CPM reserve (100,000 micros per mille): 100 micros an impression.
    assert placed["price_micros"] == 100
    assert placed["ecpm_micros"] == 5_000_000
    assert placed["pctr"] == pytest.approx(0.02)  # no model file: the constant prior
    assert placed["creative"]["landing_url"] == ad["creative"]["landing_url"]
    assert placed["tracking"]["impression"] != placed["tracking"]["click"]
    organic = [item["video_id"] for item in items if item["type"] == "organic"]
    assert organic == [item["video_id"] for item in FEED]


def test_second_price_across_billing_events(admin, acme, globex, feed, serving):
    servable(admin, acme[1], **CPM)  # eCPM 5,000,000
    cpc_group, _ = servable(
        admin, globex[1], billing_event="CPC", bid_micros=1_000_000, targeting={}
    )  # eCPM 1,000,000 x 0.02 x 1000 = 20,000,000
    first, second = ads_of(auction(feed))
    assert first["ad_group_id"] == cpc_group["id"]
    # The CPC winner pays what keeps it above 5,000,000 eCPM: 5,000,000 / (0.02 x 1000).
    assert first["price_micros"] == 250_000
    assert first["ecpm_micros"] == 20_000_000
    # The CPM runner-up takes the next slot alone and pays the reserve per impression.
    assert second["billing_event"] == "CPM" and second["price_micros"] == 100
    assert second["position"] == 8


def test_targeting_and_review_decide_who_serves(admin, acme, globex, feed, serving):
    servable(
        admin, acme[1], billing_event="CPM", bid_micros=5_000_000, targeting={"countries": ["DE"]}
    )
    campaign = make_campaign(globex[1])
    make_ad(globex[1], make_ad_group(globex[1], campaign["id"], **CPM)["id"])  # not approved
    assert ads_of(auction(feed)) == []
    german = auction(feed, user={**USER, "country": "DE"})
    assert len(ads_of(german)) == 1


def test_brand_safety_keeps_ads_away_from_excluded_creators(admin, acme, feed, serving):
    servable(
        admin,
        acme[1],
        billing_event="CPM",
        bid_micros=5_000_000,
        targeting={"excluded_creators": ["c2", "c3"]},
    )
    # Slot 1 sits between c2 and c3: excluded. Slot 2 sits between c6 and c7: fine.
    [placed] = ads_of(auction(feed))
    # The second slot (before organic #7) takes it; the first stayed empty, so it sits at 7.
    assert placed["position"] == 7
    organic_before = [
        i for i in auction(feed)["items"][: placed["position"]] if i["type"] == "organic"
    ]
    assert organic_before[-1]["creator_id"] == "c6"


def test_ad_load_overrides_and_limits(admin, acme, globex, feed, serving):
    servable(admin, acme[1], **CPM)
    servable(admin, globex[1], **CPM)
    response = auction(feed, ad_load={"first_position": 1, "min_gap": 2, "max_ads": 1})
    assert [ad["position"] for ad in ads_of(response)] == [1]
    response = feed.post(
        "/v1/auction",
        json={"request_id": "r", "user": USER, "feed": FEED, "ad_load": {"max_ads": 50}},
    )
    assert response.status_code == 422
    assert "ad_load.max_ads" in response.json["fields"]


def test_short_feeds_get_no_ads(admin, acme, feed, serving):
    servable(admin, acme[1], **CPM)
    assert ads_of(auction(feed, feed=FEED[:3])) == []
    assert auction(feed, feed=[])["items"] == []


def test_one_ad_per_advertiser(admin, acme, feed, serving):
    servable(admin, acme[1], **CPM)
    servable(admin, acme[1], **CPM)
    assert len(ads_of(auction(feed))) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"user": USER, "feed": FEED},
        {"request_id": "r", "feed": FEED},
        {"request_id": "r", "user": {**USER, "age_group": "30-40"}, "feed": FEED},
        {"request_id": "r", "user": USER, "feed": [{"video_id": "v"}]},
        {"request_id": "bad id with spaces", "user": USER, "feed": FEED},
    ],
)
def test_bad_requests_are_422(feed, serving, body):
    response = feed.post("/v1/auction", json=body)
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"request_id": "r" * 128 + "\n"}, "request_id"),
        ({"request_id": "req-1\n"}, "request_id"),
        ({"user": {**USER, "id": "user-1\n"}}, "user.id"),
        ({"feed": [{**FEED[0], "video_id": "v0\n"}, *FEED[1:]]}, "feed.0.video_id"),
    ],
)
def test_a_trailing_newline_in_an_id_is_422(feed, serving, overrides, field):
    """Python's "$" also matches before a final newline: the ids must match in full."""
    response = feed.post(
        "/v1/auction", json={"request_id": "r", "user": USER, "feed": FEED} | overrides
    )
    assert response.status_code == 422, response.json
    assert set(response.json) == {"code", "message", "fields", "request_id"}
    assert response.json["code"] == "validation_failed"
    assert field in response.json["fields"], response.json


def test_only_the_feed_role_runs_auctions(admin, acme, serving):
    body = {"request_id": "r", "user": USER, "feed": FEED}
    assert admin.post("/v1/auction", json=body).status_code == 403
    assert acme[1].post("/v1/auction", json=body).status_code == 403


def test_served_ads_and_sampled_auctions_are_logged(admin, acme, feed, serving, db):
    from dataclasses import replace

    serving.settings = replace(serving.settings, auction_log_sample_rate=1.0)
    servable(admin, acme[1], **CPM)
    [placed] = ads_of(auction(feed))
    serving.logs.flush()
    with db.transaction() as session:
        served = session.scalars(select(ServedAd)).all()
        logged = session.scalars(select(AuctionLog)).all()
    assert [row.impression_id for row in served] == [placed["impression_id"]]
    assert served[0].position == 3 and served[0].price_micros == 100
    assert len(served[0].features) > 10
    assert len(logged) == 1 and logged[0].candidates[0]["price_micros"] == 100_000


def test_the_model_reads_the_hour_on_the_viewers_clock(admin, acme, feed, serving, db):
    from zoneinfo import ZoneInfo

    from auction.features import FEATURE_NAMES, FEATURE_SPEC_HASH

    servable(admin, acme[1], **CPM)
    for number, zone in enumerate(("Asia/Kolkata", None)):
        user = {**USER, "id": f"viewer-{number}", "timezone": zone}
        assert len(ads_of(auction(feed, user=user))) == 1
    serving.logs.flush()
    with db.read() as session:
        served = {row.user_id: row for row in session.scalars(select(ServedAd))}
    hour, weekday = FEATURE_NAMES.index("hour_local"), FEATURE_NAMES.index("weekday_local")
    for user_id, zone in (("viewer-0", "Asia/Kolkata"), ("viewer-1", "UTC")):
        row = served[user_id]
        local = row.served_at.astimezone(ZoneInfo(zone))
        assert (row.features[hour], row.features[weekday]) == (local.hour, local.weekday())
        assert row.feature_spec == FEATURE_SPEC_HASH
    # Kolkata is 5:30 ahead of UTC: the two viewers' hours always differ.
    assert served["viewer-0"].features[hour] != served["viewer-1"].features[hour]


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "europe/berlin", "/etc/passwd", "EST ", "localtime"]
)
def test_an_unknown_time_zone_is_422_and_logs_nothing(admin, acme, feed, serving, db, zone):
    servable(admin, acme[1], **CPM)
    body = {"request_id": "r", "user": {**USER, "timezone": zone}, "feed": FEED}
    response = feed.post("/v1/auction", json=body)
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_failed"
    assert "IANA" in response.json["fields"]["user.timezone"][0]
    serving.logs.flush()
    with db.read() as session:
        assert session.scalars(select(ServedAd)).all() == []


def test_changes_reach_the_auction_within_two_seconds(admin, acme, feed, app, db):
    """With the background refresher (as in production), a pause stops serving within 2 s."""
    from dataclasses import replace

    from adsmanager.serving.runtime import Serving

    settings = replace(app.extensions["adsmanager.settings"], snapshot_refresh_seconds=0.2)
    runtime = app.extensions["adsmanager.serving"] = Serving(settings, db)
    try:
        group, _ = servable(admin, acme[1], **CPM)
        assert len(ads_of(auction(feed))) == 1
        acme[1].patch(f"/v1/ad-groups/{group['id']}", json={"status": "PAUSED"})
        paused_at = time.monotonic()
        while ads_of(auction(feed)) and time.monotonic() - paused_at < 5:
            time.sleep(0.05)
        assert ads_of(auction(feed)) == []
        assert time.monotonic() - paused_at < 2
    finally:
        # Its writer thread would otherwise land these served ads in a later test's tables.
        runtime.logs.flush()
        app.extensions.pop("adsmanager.serving", None)

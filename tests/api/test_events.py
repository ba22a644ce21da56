"""POST /v1/events: each token charged at most once, at the auction price."""

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from adsmanager.db.delivery import AdEvent, DeliveryHour
from adsmanager.serving.runtime import Serving
from auction.tokens import TokenSigner, TrackedEvent
from tests.api.test_auction import CPM, USER, ads_of, auction, servable


def post_events(feed, tokens):
    response = feed.post("/v1/events", json={"events": [{"token": t} for t in tokens]})
    assert response.status_code == 200, response.json
    return response.json


def charged(db) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.coalesce(func.sum(AdEvent.charge_micros), 0)))


def delivered(db) -> tuple[int, int, int]:
    with db.transaction() as session:
        row = session.execute(
            select(
                func.sum(DeliveryHour.impressions),
                func.sum(DeliveryHour.clicks),
                func.sum(DeliveryHour.spend_micros),
            )
        ).one()
    return tuple(value or 0 for value in row)


@pytest.fixture
def placed(admin, acme, feed, serving):
    servable(admin, acme[1], **CPM)
    [ad] = ads_of(auction(feed))
    return ad


def test_an_impression_is_charged_once(feed, placed, db):
    token = placed["tracking"]["impression"]
    first = post_events(feed, [token])
    assert first["accepted"] == 1 and first["results"][0]["charged_micros"] == 100
    again = post_events(feed, [token, token])
    assert again["duplicates"] == 2 and again["accepted"] == 0
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    assert charged(db) == 100
    assert delivered(db) == (1, 0, 100)


def test_a_cpm_click_counts_but_costs_nothing(feed, placed, db):
    result = post_events(feed, [placed["tracking"]["impression"], placed["tracking"]["click"]])
    assert result["accepted"] == 2
    assert [r["event_type"] for r in result["results"]] == ["impression", "click"]
    assert delivered(db) == (1, 1, 100)


def test_a_cpc_click_is_charged_at_the_auction_price(admin, globex, feed, serving, db):
    servable(admin, globex[1], billing_event="CPC", bid_micros=1_000_000, targeting={})
    [ad] = ads_of(auction(feed))
    assert ad["price_micros"] == 10_000  # alone: the CPC reserve
    result = post_events(feed, [ad["tracking"]["impression"], ad["tracking"]["click"]])
    assert [r["charged_micros"] for r in result["results"]] == [0, 10_000]
    assert delivered(db) == (1, 1, 10_000)


def test_a_batch_with_good_and_bad_items(feed, placed, app, db):
    signer = TokenSigner("not the server's secret")
    genuine = placed["tracking"]["impression"]
    forged = signer.sign(
        TrackedEvent(
            impression_id="imp_forged",
            event_type="impression",
            request_id="r",
            user_id="u",
            ad_id="ad",
            ad_group_id="adg",
            campaign_id="cmp",
            advertiser_id="adv",
            billing_event="CPM",
            charge_micros=10**9,
            position=3,
            expires_at=2**40,
        )
    )
    version, payload, signature = genuine.split(".")
    tampered = f"{version}.{payload[:-2]}AA.{signature}"
    result = post_events(feed, [genuine, forged, tampered, "garbage", genuine])
    assert [r["status"] for r in result["results"]] == [
        "accepted",
        "invalid",
        "invalid",
        "invalid",
        "duplicate",
    ]
    assert [r["reason"] for r in result["results"]][1:4] == [
        "bad_signature",
        "bad_signature",
        "malformed",
    ]
    assert (result["accepted"], result["duplicates"], result["invalid"]) == (1, 1, 3)
    assert charged(db) == 100


def test_a_non_ascii_token_is_invalid_and_the_rest_of_the_batch_is_charged(feed, placed, db):
    genuine = placed["tracking"]["impression"]
    version, payload, signature = genuine.split(".")
    result = post_events(
        feed, ["v1.abc.\u00e9", genuine, f"{version}.{payload}.{signature[:-1]}\u00e9"]
    )
    assert [r["status"] for r in result["results"]] == ["invalid", "accepted", "invalid"]
    assert [r.get("reason") for r in result["results"]] == ["malformed", None, "malformed"]
    assert (result["accepted"], result["duplicates"], result["invalid"]) == (1, 0, 2)
    assert charged(db) == 100


def test_a_genuine_token_with_a_field_too_long_to_store_is_malformed(feed, placed, serving, db):
    """Before input patterns matched whole values, the auction took a request id of 128
    characters and a newline and signed it; such a token must not fail its batch."""
    genuine = placed["tracking"]["impression"]
    event = serving.signer.verify(genuine, datetime.now(UTC).timestamp())
    too_long = serving.signer.sign(
        replace(event, impression_id="imp_long", request_id="r" * 128 + "\n")
    )
    result = post_events(feed, [too_long, genuine])
    assert [r["status"] for r in result["results"]] == ["invalid", "accepted"]
    assert result["results"][0]["reason"] == "malformed"
    assert charged(db) == 100


def test_counters_that_fail_after_the_commit_do_not_fail_the_recorded_events(
    feed, placed, serving, db, monkeypatch
):
    def unreachable(charges):
        raise ConnectionError("the counter store is unreachable")

    monkeypatch.setattr(serving.counters, "add", unreachable)
    result = post_events(feed, [placed["tracking"]["impression"]])
    # Recorded and paid for, so accepted: a 500 would make the feed service retry into
    # duplicates. The counters missed it; a serving process raises them on its start.
    assert (result["accepted"], result["results"][0]["charged_micros"]) == (1, 100)
    assert charged(db) == 100
    restarted = Serving(serving.settings, db)
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("America/New_York")).date()  # Acme's time zone
    key = ("adg", placed["ad_group_id"], today)
    assert restarted.counters.read([key], "u", [], [], now).totals == [100]


def test_expired_tokens_charge_nothing(feed, placed, serving, db, monkeypatch):
    from adsmanager.api.events import routes

    later = datetime.now(UTC) + timedelta(seconds=serving.settings.token_ttl_seconds + 1)

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return later

    monkeypatch.setattr(routes, "datetime", Clock)
    result = post_events(feed, [placed["tracking"]["impression"]])
    assert result["results"][0] == {
        **result["results"][0],
        "status": "invalid",
        "reason": "expired",
    }
    assert charged(db) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"events": []},
        {"events": [{"token": ""}]},
        {"events": [{"token": "x"}] * 1001},
        {"events": ["x"]},
    ],
)
def test_malformed_batches_are_422(feed, serving, body):
    assert feed.post("/v1/events", json=body).status_code == 422


def test_concurrent_duplicates_charge_once(app, feed, placed, db):
    """Eight clients send the same impression at once: one charge in all."""
    tokens = [placed["tracking"]["impression"]] * 5
    barrier = threading.Barrier(8)
    outcomes = []

    def send():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/v1/events",
            json={"events": [{"token": t} for t in tokens]},
            headers={"Authorization": f"Bearer {feed.key}"},
        )
        outcomes.append(response.json["accepted"])

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [0] * 7 + [1]
    assert charged(db) == 100
    assert delivered(db) == (1, 0, 100)


def test_a_daily_budget_stops_the_ad_group_the_same_day(admin, acme, feed, serving):
    # Ten impressions at 100 micros.
    servable(admin, acme[1], {"budget_micros": 1_000}, **CPM, pacing="ACCELERATED")
    served = 0
    for number in range(30):
        placed = ads_of(auction(feed, request_id=f"r{number}"))
        if not placed:
            break
        served += 1
        post_events(feed, [placed[0]["tracking"]["impression"]])
    assert served == 10


def test_frequency_caps_count_impressions_per_user(admin, acme, feed, serving):
    servable(admin, acme[1], **CPM, frequency_cap={"max_impressions": 2, "window_hours": 24})
    for _ in range(2):
        post_events(feed, [ads_of(auction(feed))[0]["tracking"]["impression"]])
    assert ads_of(auction(feed)) == []
    assert len(ads_of(auction(feed, user={**USER, "id": "user-2"}))) == 1

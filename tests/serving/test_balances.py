"""The auction stops an advertiser whose money is used up: between two reads of the ledger
through the spend counters, in every worker when they share Redis."""

from dataclasses import replace

import pytest

from adsmanager.serving.runtime import Serving
from tests.api.test_auction import ads_of, auction, servable
from tests.api.test_events import post_events
from tests.factories import create_advertiser

CPM = {"billing_event": "CPM", "bid_micros": 5_000_000, "targeting": {}}  # pays 100 micros


def _worker(app, db, **settings) -> Serving:
    base = app.extensions["adsmanager.settings"]
    return Serving(
        replace(
            base,
            snapshot_refresh_seconds=0,
            history_refresh_seconds=0,
            balance_refresh_seconds=0,
            spend_refresh_seconds=0,
            **settings,
        ),
        db,
    )


def _serve_with(app, runtime: Serving, feed, request_id: str) -> list[dict]:
    app.extensions["adsmanager.serving"] = runtime
    try:
        return ads_of(auction(feed, request_id=request_id))
    finally:
        app.extensions.pop("adsmanager.serving", None)


def test_charges_stop_an_advertiser_before_the_ledger_is_read_again(admin, feed, serving):
    _, api = create_advertiser(admin, name="Counted", funds_micros=200)
    servable(admin, api, **CPM)
    first = ads_of(auction(feed, request_id="r1"))
    post_events(feed, [first[0]["tracking"]["impression"]])
    second = ads_of(auction(feed, request_id="r2"))
    assert len(second) == 1  # 100 of 200 spent
    post_events(feed, [second[0]["tracking"]["impression"]])
    # No refresh of the ledger reading: the counters alone know the money is gone.
    assert ads_of(auction(feed, request_id="r3")) == []


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
def test_workers_sharing_redis_stop_together(admin, feed, app, db, request, shared):
    settings = {"redis_url": request.getfixturevalue("redis_url")} if shared else {}
    one, other = _worker(app, db, **settings), _worker(app, db, **settings)
    _, api = create_advertiser(admin, name="Shared", funds_micros=100)
    servable(admin, api, **CPM)
    assert len(_serve_with(app, other, feed, "warm")) == 1  # both workers have read the ledger
    [ad] = _serve_with(app, one, feed, "r1")
    app.extensions["adsmanager.serving"] = one
    post_events(feed, [ad["tracking"]["impression"]])  # reported to worker one
    app.extensions.pop("adsmanager.serving")
    # With Redis the other worker stops at once; in-process it learns at its next refresh.
    assert len(_serve_with(app, other, feed, "r2")) == (0 if shared else 1)
    other.balances.refresh()
    assert _serve_with(app, other, feed, "r3") == []

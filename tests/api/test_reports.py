"""GET /v1/reports/delivery: what was delivered and spent, from the charged events."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.test_auction import CPM, ads_of, auction, servable
from tests.api.test_events import post_events


def _window():
    now = datetime.now(UTC)
    start = (now - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    end = (now + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    return f"start={start}&end={end}"


@pytest.fixture
def delivered(admin, acme, globex, feed, serving):
    group, ad = servable(admin, acme[1], **CPM)
    servable(admin, globex[1], billing_event="CPC", bid_micros=1_000_000, targeting={})
    tokens = []
    for number in range(4):
        for placed in ads_of(auction(feed, request_id=f"r{number}")):
            tokens.append(placed["tracking"]["impression"])
            if number == 0:
                tokens.append(placed["tracking"]["click"])
    post_events(feed, tokens)
    return group, ad


def test_advertisers_see_their_own_delivery(acme, globex, delivered):
    group, ad = delivered
    report = acme[1].get(f"/v1/reports/delivery?level=ad&granularity=day&{_window()}").json
    assert report["level"] == "ad" and report["granularity"] == "day"
    [row] = report["rows"]
    assert row["id"] == ad["id"] and row["advertiser_id"] == acme[0]["id"]
    # Acme's CPM ad came second in every auction: 4 impressions at 100 micros, one click.
    assert (row["impressions"], row["clicks"], row["spend_micros"]) == (4, 1, 400)
    assert row["ctr"] == 0.25
    assert row["cpm_micros"] == 100_000 and row["cpc_micros"] == 400
    theirs = globex[1].get(f"/v1/reports/delivery?{_window()}").json["rows"]
    assert {r["advertiser_id"] for r in theirs} == {globex[0]["id"]}
    # Globex's CPC ad: 4 impressions free, 1 click at 500,000 micros.
    assert (theirs[0]["impressions"], theirs[0]["clicks"], theirs[0]["spend_micros"]) == (
        4,
        1,
        250_000,
    )


def test_spend_in_the_report_equals_the_charged_events(admin, delivered, db):
    from tests.api.test_events import charged

    rows = admin.get(f"/v1/reports/delivery?level=campaign&granularity=hour&{_window()}").json
    assert sum(row["spend_micros"] for row in rows["rows"]) == charged(db) == 250_400


def test_levels_and_filters(admin, acme, delivered):
    group, _ = delivered
    rows = admin.get(
        f"/v1/reports/delivery?level=ad_group&campaign_id={group['campaign_id']}&{_window()}"
    ).json["rows"]
    assert [row["id"] for row in rows] == [group["id"]]
    rows = admin.get(f"/v1/reports/delivery?advertiser_id={acme[0]['id']}&{_window()}").json
    assert [row["id"] for row in rows["rows"]] == [group["campaign_id"]]


@pytest.mark.parametrize(
    "query",
    [
        "level=ad",
        "start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z",
        "start=2026-01-01T00:00:00Z&end=2028-01-01T00:00:00Z",
        "level=creative&start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z",
    ],
)
def test_bad_report_arguments_are_422(acme, query):
    assert acme[1].get(f"/v1/reports/delivery?{query}").status_code == 422


def test_the_feed_role_reads_no_reports(feed):
    assert feed.get(f"/v1/reports/delivery?{_window()}").status_code == 403

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


def test_a_report_is_limited_by_its_rows_not_by_the_hours_summed_into_them(acme, db):
    """80 ads delivering every hour of 30 days: 57,600 hourly rows, which a campaign-by-day
    report sums into 30 (the dashboard asks exactly that); by ad and hour it is too long."""
    from adsmanager.db.delivery import DeliveryHour
    from adsmanager.db.upsert import insert_rows

    advertiser = acme[0]["id"]
    first = datetime(2026, 10, 1, tzinfo=UTC)
    hours = [first + timedelta(hours=h) for h in range(30 * 24)]
    rows = [
        {
            "ad_id": f"ad_{number:02d}",
            "hour": hour,
            "ad_group_id": f"adg_{number // 10}",
            "campaign_id": "cmp_all",
            "advertiser_id": advertiser,
            "impressions": 2,
            "clicks": number % 2,
            "spend_micros": 3_000,
        }
        for number in range(80)
        for hour in hours
    ]
    with db.transaction() as session:
        for start in range(0, len(rows), 10_000):
            session.execute(
                *insert_rows(session, DeliveryHour.__table__, rows[start : start + 10_000])
            )
    window = "start=2026-10-01T00:00:00Z&end=2026-10-31T00:00:00Z"
    response = acme[1].get(f"/v1/reports/delivery?level=campaign&granularity=day&{window}")
    assert response.status_code == 200, response.json
    report = response.json["rows"]
    # New York days: 30 UTC days touch 31 local ones.
    assert len(report) == 31
    assert sum(row["impressions"] for row in report) == 80 * 720 * 2
    assert sum(row["clicks"] for row in report) == 40 * 720
    assert sum(row["spend_micros"] for row in report) == 80 * 720 * 3_000
    too_long = acme[1].get(f"/v1/reports/delivery?level=ad&granularity=hour&{window}")
    assert too_long.status_code == 422
    assert "narrow the range" in too_long.json["fields"]["start"][0]

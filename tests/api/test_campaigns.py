import pytest

from tests.factories import CAMPAIGN, count_rows, make_ad_group, make_campaign


def test_advertiser_creates_and_reads_a_campaign(acme):
    advertiser, api = acme
    response = api.post(
        "/v1/campaigns",
        json={
            **CAMPAIGN,
            "start_time": "2026-12-01T09:00:00+01:00",
            "end_time": "2026-12-31T23:00:00Z",
            "status": "PAUSED",
        },
    )
    assert response.status_code == 201
    body = response.json
    assert body["id"].startswith("cmp_")
    assert body["advertiser_id"] == advertiser["id"]
    assert body["budget_micros"] == 50_000_000
    assert body["start_time"] == "2026-12-01T08:00:00+00:00"  # stored and shown in UTC
    assert body["status"] == "PAUSED"
    assert api.get(f"/v1/campaigns/{body['id']}").json == body


def test_start_defaults_to_now_and_status_to_active(acme):
    body = make_campaign(acme[1])
    assert body["start_time"] and body["end_time"] is None and body["status"] == "ACTIVE"


def test_admin_must_name_the_advertiser(admin, acme):
    response = admin.post("/v1/campaigns", json=CAMPAIGN)
    assert response.status_code == 422
    assert "advertiser_id" in response.json["fields"]
    response = admin.post("/v1/campaigns", json={**CAMPAIGN, "advertiser_id": acme[0]["id"]})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"budget_micros": 0}, "budget_micros"),
        ({"budget_micros": -5}, "budget_micros"),
        ({"budget_micros": 1.5}, "budget_micros"),
        ({"budget_micros": 1e6}, "budget_micros"),
        ({"budget_micros": "1000000"}, "budget_micros"),
        ({"budget_micros": True}, "budget_micros"),
        ({"budget_micros": 10**16}, "budget_micros"),
        ({"objective": "CONVERSIONS"}, "objective"),
        ({"budget_mode": "WEEKLY"}, "budget_mode"),
        ({"name": "x" * 201}, "name"),
        ({"start_time": "2026-12-01T09:00:00"}, "start_time"),  # no time zone
        ({"start_time": "next tuesday"}, "start_time"),
        # Out of the range every time zone can show (Python's years run 1 to 9999).
        ({"start_time": "9999-12-31T23:30:00-05:00"}, "start_time"),
        ({"start_time": "0001-01-01T00:30:00+05:00"}, "start_time"),
        ({"end_time": "9999-12-31T20:00:00Z"}, "end_time"),
        ({"start_time": "1969-12-31T23:59:59Z"}, "start_time"),
        ({"start_time": "2026-12-02T00:00:00Z", "end_time": "2026-12-01T00:00:00Z"}, "end_time"),
        ({"start_time": "2026-12-02T00:00:00Z", "end_time": "2026-12-02T00:00:00Z"}, "end_time"),
        ({"status": "ARCHIVED"}, "status"),
        ({"id": "cmp_mine"}, "id"),
    ],
)
def test_invalid_campaigns_are_422_and_write_nothing(acme, db, change, field):
    response = acme[1].post("/v1/campaigns", json={**CAMPAIGN, **change})
    assert response.status_code == 422, response.json
    assert field in response.json["fields"], response.json
    assert count_rows(db, "campaigns") == 0


def test_every_error_is_reported_at_once(acme):
    response = acme[1].post("/v1/campaigns", json={"budget_micros": 0, "objective": "NOPE"})
    assert set(response.json["fields"]) == {"name", "budget_micros", "objective", "budget_mode"}


def test_partial_update(acme):
    api = acme[1]
    campaign = make_campaign(api)
    response = api.patch(
        f"/v1/campaigns/{campaign['id']}", json={"name": "Renamed", "status": "PAUSED"}
    )
    assert response.status_code == 200
    assert response.json["name"] == "Renamed"
    assert response.json["status"] == "PAUSED"
    assert response.json["budget_micros"] == campaign["budget_micros"]


def test_update_checks_the_merged_flight(acme, db):
    api = acme[1]
    campaign = make_campaign(api, start_time="2026-12-10T00:00:00Z")
    response = api.patch(
        f"/v1/campaigns/{campaign['id']}", json={"end_time": "2026-12-01T00:00:00Z"}
    )
    assert response.status_code == 422 and "end_time" in response.json["fields"]
    assert api.get(f"/v1/campaigns/{campaign['id']}").json["end_time"] is None
    response = api.patch(
        f"/v1/campaigns/{campaign['id']}", json={"end_time": "2026-12-20T00:00:00Z"}
    )
    assert response.status_code == 200
    response = api.patch(f"/v1/campaigns/{campaign['id']}", json={"end_time": None})
    assert response.json["end_time"] is None


@pytest.mark.parametrize("field", ["objective", "budget_mode", "advertiser_id"])
def test_fixed_fields_cannot_change(acme, field):
    campaign = make_campaign(acme[1])
    response = acme[1].patch(f"/v1/campaigns/{campaign['id']}", json={field: "REACH"})
    assert response.status_code == 422
    assert response.json["fields"] == {field: ["Unknown field."]}


def test_budget_cannot_drop_below_a_cpc_bid(acme):
    api = acme[1]
    campaign = make_campaign(api, budget_micros=10_000_000)
    make_ad_group(api, campaign["id"], billing_event="CPC", bid_micros=2_000_000)
    response = api.patch(f"/v1/campaigns/{campaign['id']}", json={"budget_micros": 1_000_000})
    assert response.status_code == 422
    assert "2.00 USD" in response.json["fields"]["budget_micros"][0]
    assert api.get(f"/v1/campaigns/{campaign['id']}").json["budget_micros"] == 10_000_000


def test_archived_campaigns_are_frozen(acme):
    api = acme[1]
    campaign = make_campaign(api)
    ad_group = make_ad_group(api, campaign["id"])
    archived = api.post(f"/v1/campaigns/{campaign['id']}/archive")
    assert archived.status_code == 200 and archived.json["status"] == "ARCHIVED"
    assert api.get(f"/v1/ad-groups/{ad_group['id']}").json["status"] == "ARCHIVED"
    response = api.patch(f"/v1/campaigns/{campaign['id']}", json={"status": "ACTIVE"})
    assert response.status_code == 409
    assert response.json["code"] == "archived"
    assert api.post(f"/v1/campaigns/{campaign['id']}/archive").status_code == 200
    response = api.post(
        "/v1/ad-groups",
        json={
            "campaign_id": campaign["id"],
            "name": "late",
            "billing_event": "CPM",
            "bid_micros": 1,
        },
    )
    assert response.status_code == 422
    assert "archived" in response.json["fields"]["campaign_id"][0]


def test_list_filters(acme, globex, admin):
    api = acme[1]
    first = make_campaign(api, name="one")
    second = make_campaign(api, name="two", status="PAUSED")
    make_campaign(globex[1], name="theirs")
    assert [c["id"] for c in api.get("/v1/campaigns").json["items"]] == [first["id"], second["id"]]
    assert [c["id"] for c in api.get("/v1/campaigns?status=PAUSED").json["items"]] == [second["id"]]
    by_advertiser = admin.get(f"/v1/campaigns?advertiser_id={acme[0]['id']}").json["items"]
    assert {c["name"] for c in by_advertiser} == {"one", "two"}
    assert len(admin.get("/v1/campaigns").json["items"]) == 3


def test_timestamps(acme):
    api = acme[1]
    campaign = make_campaign(api)
    assert campaign["created_at"] == campaign["updated_at"]
    assert campaign["created_at"].endswith("+00:00")
    updated = api.patch(f"/v1/campaigns/{campaign['id']}", json={"name": "later"}).json
    assert updated["created_at"] == campaign["created_at"]
    assert updated["updated_at"] > campaign["updated_at"]

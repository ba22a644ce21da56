import pytest

from tests.factories import AD_GROUP, count_rows, make_ad, make_ad_group, make_campaign


@pytest.fixture
def campaign(acme):
    return make_campaign(acme[1])


def test_create_with_every_setting(acme, campaign):
    api = acme[1]
    body = {
        "campaign_id": campaign["id"],
        "name": "Night owls",
        "billing_event": "CPM",
        "bid_micros": 4_000_000,
        "budget_mode": "DAILY",
        "budget_micros": 20_000_000,
        "pacing": "ACCELERATED",
        "frequency_cap": {"max_impressions": 3, "window_hours": 24},
        "dayparting": [{"days": ["SAT", "FRI"], "start_hour": 20, "end_hour": 24}],
        "targeting": {
            "countries": ["US", "CA"],
            "languages": ["en", "fr"],
            "age_groups": ["18-24"],
            "genders": ["female"],
            "os": ["ios"],
            "interests": ["gaming", "sci-fi"],
            "excluded_categories": ["news"],
            "excluded_creators": ["creator-42"],
        },
    }
    response = api.post("/v1/ad-groups", json=body)
    assert response.status_code == 201, response.json
    created = response.json
    assert created["id"].startswith("adg_")
    assert created["advertiser_id"] == acme[0]["id"]
    assert created["frequency_cap"] == {"max_impressions": 3, "window_hours": 24}
    assert created["dayparting"] == [{"days": ["FRI", "SAT"], "start_hour": 20, "end_hour": 24}]
    assert created["targeting"] == body["targeting"]
    assert api.get(f"/v1/ad-groups/{created['id']}").json == created


def test_defaults(acme, campaign):
    created = make_ad_group(acme[1], campaign["id"], targeting={})
    assert created["pacing"] == "STANDARD"
    assert created["status"] == "ACTIVE"
    assert created["frequency_cap"] is None and created["dayparting"] is None
    assert created["budget_mode"] is None and created["budget_micros"] is None
    assert created["targeting"] == {
        name: []
        for name in (
            "countries",
            "languages",
            "age_groups",
            "genders",
            "os",
            "interests",
            "excluded_categories",
            "excluded_creators",
        )
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bid_micros": 0}, "bid_micros"),
        ({"bid_micros": -1}, "bid_micros"),
        ({"bid_micros": 0.5}, "bid_micros"),
        ({"billing_event": "CPA"}, "billing_event"),
        ({"pacing": "FAST"}, "pacing"),
        ({"budget_micros": 0, "budget_mode": "DAILY"}, "budget_micros"),
        ({"budget_micros": 5_000_000}, "budget_micros"),  # amount without a mode
        ({"budget_mode": "DAILY"}, "budget_micros"),  # mode without an amount
        ({"targeting": {"countries": ["XX"]}}, "targeting.countries.0"),
        ({"targeting": {"countries": ["us"]}}, "targeting.countries.0"),
        ({"targeting": {"countries": ["US", "FR", "US"]}}, "targeting.countries.2"),
        ({"targeting": {"languages": ["english"]}}, "targeting.languages.0"),
        ({"targeting": {"languages": ["xx"]}}, "targeting.languages.0"),
        ({"targeting": {"age_groups": ["18-25"]}}, "targeting.age_groups.0"),
        ({"targeting": {"genders": ["f"]}}, "targeting.genders.0"),
        ({"targeting": {"os": ["windows"]}}, "targeting.os.0"),
        ({"targeting": {"interests": ["Sci Fi"]}}, "targeting.interests.0"),
        ({"targeting": {"interests": ["a", "a"]}}, "targeting.interests.1"),
        ({"targeting": {"countries": "US"}}, "targeting.countries"),
        ({"targeting": {"planets": ["mars"]}}, "targeting.planets"),
        ({"targeting": {"countries": [1]}}, "targeting.countries.0"),
        (
            {"frequency_cap": {"max_impressions": 0, "window_hours": 24}},
            "frequency_cap.max_impressions",
        ),
        ({"frequency_cap": {"max_impressions": 3}}, "frequency_cap.window_hours"),
        ({"dayparting": []}, "dayparting"),
        (
            {"dayparting": [{"days": ["MON"], "start_hour": 9, "end_hour": 9}]},
            "dayparting.0.end_hour",
        ),
        (
            {"dayparting": [{"days": ["MON"], "start_hour": 24, "end_hour": 24}]},
            "dayparting.0.start_hour",
        ),
        (
            {"dayparting": [{"days": ["MON", "MON"], "start_hour": 1, "end_hour": 2}]},
            "dayparting.0.days",
        ),
        (
            {"dayparting": [{"days": ["FUNDAY"], "start_hour": 1, "end_hour": 2}]},
            "dayparting.0.days.0",
        ),
        ({"campaign_id": "cmp_nope"}, "campaign_id"),
        ({"status": "ARCHIVED"}, "status"),
    ],
)
def test_invalid_ad_groups_are_422_and_write_nothing(acme, campaign, db, change, field):
    response = acme[1].post(
        "/v1/ad-groups", json={**AD_GROUP, "campaign_id": campaign["id"], **change}
    )
    assert response.status_code == 422, response.json
    assert field in response.json["fields"], response.json["fields"]
    assert count_rows(db, "ad_groups") == 0


def test_cpc_bid_cannot_exceed_the_daily_budget(acme, db):
    api = acme[1]
    campaign = make_campaign(api, budget_micros=5_000_000)
    response = api.post(
        "/v1/ad-groups",
        json={
            **AD_GROUP,
            "campaign_id": campaign["id"],
            "billing_event": "CPC",
            "bid_micros": 6_000_000,
        },
    )
    assert response.status_code == 422
    assert "budget" in response.json["fields"]["bid_micros"][0]
    response = api.post(
        "/v1/ad-groups",
        json={
            **AD_GROUP,
            "campaign_id": campaign["id"],
            "billing_event": "CPC",
            "bid_micros": 2_000_000,
            "budget_mode": "DAILY",
            "budget_micros": 1_000_000,
        },
    )
    assert response.status_code == 422
    assert "ad group's budget" in response.json["fields"]["bid_micros"][0]
    # A CPM bid is per thousand impressions: it may exceed the daily budget.
    response = api.post(
        "/v1/ad-groups",
        json={
            **AD_GROUP,
            "campaign_id": campaign["id"],
            "billing_event": "CPM",
            "bid_micros": 6_000_000,
        },
    )
    assert response.status_code == 201
    assert count_rows(db, "ad_groups") == 1


def test_reach_campaigns_buy_impressions_only(acme):
    api = acme[1]
    campaign = make_campaign(api, objective="REACH")
    response = api.post(
        "/v1/ad-groups", json={**AD_GROUP, "campaign_id": campaign["id"], "billing_event": "CPC"}
    )
    assert response.status_code == 422
    assert "REACH" in response.json["fields"]["billing_event"][0]
    assert make_ad_group(api, campaign["id"], billing_event="CPM")["billing_event"] == "CPM"


def test_partial_update_and_clearing(acme, campaign):
    api = acme[1]
    ad_group = make_ad_group(
        api, campaign["id"], frequency_cap={"max_impressions": 2, "window_hours": 12}
    )
    response = api.patch(
        f"/v1/ad-groups/{ad_group['id']}",
        json={
            "bid_micros": 1_000_000,
            "frequency_cap": None,
            "targeting": {"countries": ["DE"]},
            "budget_mode": "LIFETIME",
            "budget_micros": 30_000_000,
            "status": "PAUSED",
        },
    )
    assert response.status_code == 200, response.json
    updated = response.json
    assert updated["bid_micros"] == 1_000_000
    assert updated["frequency_cap"] is None
    assert updated["targeting"]["countries"] == ["DE"]
    assert updated["targeting"]["age_groups"] == []  # targeting is replaced as a whole
    assert (updated["budget_mode"], updated["budget_micros"]) == ("LIFETIME", 30_000_000)
    assert updated["status"] == "PAUSED"
    assert updated["name"] == ad_group["name"]


def test_update_checks_the_whole_ad_group(acme, campaign):
    api = acme[1]
    ad_group = make_ad_group(api, campaign["id"])
    response = api.patch(f"/v1/ad-groups/{ad_group['id']}", json={"bid_micros": 60_000_000})
    assert response.status_code == 422 and "bid_micros" in response.json["fields"]
    response = api.patch(f"/v1/ad-groups/{ad_group['id']}", json={"budget_micros": 9_000_000})
    assert response.status_code == 422 and "budget_micros" in response.json["fields"]
    assert api.get(f"/v1/ad-groups/{ad_group['id']}").json == ad_group


@pytest.mark.parametrize("field", ["campaign_id", "billing_event", "advertiser_id"])
def test_fixed_fields_cannot_change(acme, campaign, field):
    ad_group = make_ad_group(acme[1], campaign["id"])
    response = acme[1].patch(f"/v1/ad-groups/{ad_group['id']}", json={field: "CPM"})
    assert response.status_code == 422
    assert response.json["fields"] == {field: ["Unknown field."]}


def test_archive_cascades_to_ads_and_freezes(acme, campaign):
    api = acme[1]
    ad_group = make_ad_group(api, campaign["id"])
    ad = make_ad(api, ad_group["id"])
    assert api.post(f"/v1/ad-groups/{ad_group['id']}/archive").json["status"] == "ARCHIVED"
    assert api.get(f"/v1/ads/{ad['id']}").json["status"] == "ARCHIVED"
    response = api.patch(f"/v1/ad-groups/{ad_group['id']}", json={"name": "again"})
    assert response.status_code == 409
    assert api.get(f"/v1/campaigns/{campaign['id']}").json["status"] == "ACTIVE"


def test_list_by_campaign_and_status(acme, campaign):
    api = acme[1]
    other = make_campaign(api, name="other")
    first = make_ad_group(api, campaign["id"])
    make_ad_group(api, other["id"])
    paused = make_ad_group(api, campaign["id"], status="PAUSED")
    listed = api.get(f"/v1/ad-groups?campaign_id={campaign['id']}").json["items"]
    assert [a["id"] for a in listed] == [first["id"], paused["id"]]
    listed = api.get(f"/v1/ad-groups?campaign_id={campaign['id']}&status=PAUSED").json["items"]
    assert [a["id"] for a in listed] == [paused["id"]]

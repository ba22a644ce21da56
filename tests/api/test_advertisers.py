import pytest

from tests.factories import count_rows, make_ad, make_ad_group, make_campaign


def test_admin_creates_an_advertiser_with_a_working_first_key(admin, db):
    response = admin.post(
        "/v1/advertisers", json={"name": "Acme", "currency": "JPY", "timezone": "Asia/Tokyo"}
    )
    assert response.status_code == 201
    body = response.json
    assert body["id"].startswith("adv_")
    assert (body["name"], body["currency"], body["timezone"], body["status"]) == (
        "Acme",
        "JPY",
        "Asia/Tokyo",
        "ACTIVE",
    )
    key = body["api_key"]
    assert key["role"] == "advertiser" and key["advertiser_id"] == body["id"]
    assert key["key"].startswith(f"am_{key['prefix']}_")
    own = admin.as_key(key["key"]).get(f"/v1/advertisers/{body['id']}")
    assert own.status_code == 200 and "api_key" not in own.json
    # The secret is stored only as a hash.
    assert count_rows(db, "api_keys") == 2
    with db.engine.connect() as connection:
        stored = [row[0] for row in connection.exec_driver_sql("SELECT secret_hash FROM api_keys")]
    assert all(key["key"].split("_", 2)[2] not in value for value in stored)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "currency": "XYZ", "timezone": "UTC"}, "currency"),
        ({"name": "A", "currency": "usd", "timezone": "UTC"}, "currency"),
        ({"name": "A", "currency": "US", "timezone": "UTC"}, "currency"),
        ({"name": "A", "currency": "USD", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "A", "currency": "XAU", "timezone": "UTC"}, "currency"),  # gold
        ({"name": "A", "currency": "XXX", "timezone": "UTC"}, "currency"),  # no currency
        ({"name": "A", "currency": "USD", "timezone": "localtime"}, "timezone"),  # the host's
        ({"name": "A", "currency": "USD", "timezone": "Factory"}, "timezone"),
        ({"name": "", "currency": "USD", "timezone": "UTC"}, "name"),
        ({"name": "   ", "currency": "USD", "timezone": "UTC"}, "name"),
        ({"currency": "USD", "timezone": "UTC"}, "name"),
        ({"name": "A", "currency": "USD", "timezone": "UTC", "status": "ACTIVE"}, "status"),
        ({"name": "A", "currency": "USD", "timezone": "UTC", "industry": "Pet Food"}, "industry"),
        ({"name": "A", "currency": "USD", "timezone": "UTC", "industry": ""}, "industry"),
    ],
)
def test_invalid_advertisers_are_422_and_write_nothing(admin, db, body, field):
    response = admin.post("/v1/advertisers", json=body)
    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert field in response.json["fields"]
    assert count_rows(db, "advertisers") == 0


def test_get_list_and_filter(admin, acme, globex):
    listed = admin.get("/v1/advertisers").json
    assert [a["name"] for a in listed["items"]] == ["Acme", "Globex"]
    assert listed["next_page_token"] is None
    assert admin.get("/v1/advertisers?status=SUSPENDED").json["items"] == []
    assert admin.get(f"/v1/advertisers/{acme[0]['id']}").json["name"] == "Acme"


def test_pagination_walks_every_advertiser_once(admin):
    for index in range(7):
        admin.post(
            "/v1/advertisers", json={"name": f"A{index}", "currency": "USD", "timezone": "UTC"}
        )
    seen, token = [], None
    while True:
        query = "?page_size=3" + (f"&page_token={token}" if token else "")
        page = admin.get("/v1/advertisers" + query).json
        seen += [item["name"] for item in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [f"A{index}" for index in range(7)]


@pytest.mark.parametrize(
    "query",
    [
        "page_size=0",
        "page_size=201",
        "page_size=x",
        "page_token=bm9wZQ",
        "status=GONE",
        "colour=blue",
    ],
)
def test_bad_list_arguments_are_422(admin, query):
    response = admin.get(f"/v1/advertisers?{query}")
    assert response.status_code == 422
    assert response.json["fields"]


def test_update_and_suspend(admin, acme):
    advertiser_id = acme[0]["id"]
    response = admin.patch(
        f"/v1/advertisers/{advertiser_id}",
        json={"name": "Acme Corp", "status": "SUSPENDED", "timezone": "Europe/Paris"},
    )
    assert response.status_code == 200
    assert (response.json["name"], response.json["status"], response.json["timezone"]) == (
        "Acme Corp",
        "SUSPENDED",
        "Europe/Paris",
    )
    assert response.json["updated_at"] >= response.json["created_at"]


def test_industry_is_optional_validated_and_changeable(admin, acme):
    advertiser_id = acme[0]["id"]
    assert acme[0]["industry"] is None
    created = admin.post(
        "/v1/advertisers",
        json={"name": "Petco", "currency": "USD", "timezone": "UTC", "industry": "pets"},
    )
    assert created.status_code == 201 and created.json["industry"] == "pets"
    url = f"/v1/advertisers/{advertiser_id}"
    assert admin.patch(url, json={"industry": "home-garden"}).json["industry"] == "home-garden"
    bad = admin.patch(url, json={"industry": "Home & Garden"})
    assert bad.status_code == 422 and "industry" in bad.json["fields"]
    assert admin.get(url).json["industry"] == "home-garden"
    assert admin.patch(url, json={"industry": None}).json["industry"] is None


def test_currency_cannot_change(admin, acme):
    response = admin.patch(f"/v1/advertisers/{acme[0]['id']}", json={"currency": "EUR"})
    assert response.status_code == 422
    assert response.json["fields"] == {"currency": ["Unknown field."]}


def test_archive_cascades_and_freezes(admin, acme):
    advertiser, api = acme
    campaign = make_campaign(api)
    ad_group = make_ad_group(api, campaign["id"])
    ad = make_ad(api, ad_group["id"])
    response = admin.post(f"/v1/advertisers/{advertiser['id']}/archive")
    assert response.status_code == 200 and response.json["status"] == "ARCHIVED"
    for path in (
        f"/v1/campaigns/{campaign['id']}",
        f"/v1/ad-groups/{ad_group['id']}",
        f"/v1/ads/{ad['id']}",
    ):
        assert api.get(path).json["status"] == "ARCHIVED"
    # Its key still reads, but nothing new can be made and the advertiser cannot change.
    response = api.post(
        "/v1/campaigns",
        json={"name": "x", "objective": "REACH", "budget_mode": "DAILY", "budget_micros": 1},
    )
    assert response.status_code == 422
    assert "archived" in response.json["fields"]["advertiser_id"][0]
    response = admin.patch(f"/v1/advertisers/{advertiser['id']}", json={"name": "again"})
    assert response.status_code == 409 and response.json["code"] == "archived"

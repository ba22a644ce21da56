import pytest

from tests.factories import count_rows


@pytest.mark.parametrize("role", ["admin", "finance", "feed"])
def test_admin_creates_platform_keys(admin, role):
    response = admin.post("/v1/api-keys", json={"role": role, "name": f"{role} service"})
    assert response.status_code == 201
    body = response.json
    assert body["role"] == role and body["advertiser_id"] is None
    assert admin.as_key(body["key"]).get("/v1/api-keys/" + body["id"]).status_code in (200, 403)
    listed = admin.get(f"/v1/api-keys/{body['id']}").json
    assert "key" not in listed and listed["prefix"] == body["prefix"]


def test_key_rules(admin, acme, db):
    advertiser, api = acme
    before = count_rows(db, "api_keys")
    cases = [
        (admin, {"role": "advertiser", "name": "x"}, "advertiser_id"),
        (admin, {"role": "feed", "name": "x", "advertiser_id": advertiser["id"]}, "advertiser_id"),
        (
            admin,
            {"role": "advertiser", "name": "x", "advertiser_id": "adv_missing"},
            "advertiser_id",
        ),
        (api, {"role": "admin", "name": "escalate"}, "role"),
        (admin, {"role": "root", "name": "x"}, "role"),
        (admin, {"role": "feed"}, "name"),
    ]
    for client, body, field in cases:
        response = client.post("/v1/api-keys", json=body)
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["fields"], (body, response.json)
    assert count_rows(db, "api_keys") == before


def test_advertisers_rotate_their_own_keys(acme):
    advertiser, api = acme
    response = api.post("/v1/api-keys", json={"role": "advertiser", "name": "CI deploys"})
    assert response.status_code == 201
    new = response.json
    assert new["advertiser_id"] == advertiser["id"]
    new_api = api.as_key(new["key"])
    old_id = advertiser["api_key"]["id"]
    revoked = new_api.post(f"/v1/api-keys/{old_id}/revoke")
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    again = new_api.post(f"/v1/api-keys/{old_id}/revoke")
    assert again.json["revoked_at"] == revoked.json["revoked_at"]
    assert api.get("/v1/campaigns").status_code == 401
    assert new_api.get("/v1/campaigns").status_code == 200


def test_last_used_time_is_recorded(acme, admin):
    advertiser, api = acme
    key_id = advertiser["api_key"]["id"]
    assert admin.get(f"/v1/api-keys/{key_id}").json["last_used_at"] is None
    api.get("/v1/campaigns")
    assert admin.get(f"/v1/api-keys/{key_id}").json["last_used_at"] is not None


def test_list_filters(admin, acme, globex):
    keys = admin.get(f"/v1/api-keys?advertiser_id={acme[0]['id']}").json["items"]
    assert [key["id"] for key in keys] == [acme[0]["api_key"]["id"]]
    roles = {key["role"] for key in admin.get("/v1/api-keys?role=admin").json["items"]}
    assert roles == {"admin"}

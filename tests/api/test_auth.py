"""401 without a valid key, 403 for the wrong role, 404 for another advertiser's objects."""

import pytest

from tests.factories import CAMPAIGN, make_ad, make_ad_group, make_campaign

# Every route of the API, with a body that would be valid for its owner.
ROUTES = [
    ("GET", "/v1/advertisers"),
    ("POST", "/v1/advertisers"),
    ("GET", "/v1/advertisers/{advertiser}"),
    ("PATCH", "/v1/advertisers/{advertiser}"),
    ("POST", "/v1/advertisers/{advertiser}/archive"),
    ("GET", "/v1/campaigns"),
    ("POST", "/v1/campaigns"),
    ("GET", "/v1/campaigns/{campaign}"),
    ("PATCH", "/v1/campaigns/{campaign}"),
    ("POST", "/v1/campaigns/{campaign}/archive"),
    ("GET", "/v1/ad-groups"),
    ("POST", "/v1/ad-groups"),
    ("GET", "/v1/ad-groups/{ad_group}"),
    ("PATCH", "/v1/ad-groups/{ad_group}"),
    ("POST", "/v1/ad-groups/{ad_group}/archive"),
    ("GET", "/v1/ads"),
    ("POST", "/v1/ads"),
    ("GET", "/v1/ads/{ad}"),
    ("PATCH", "/v1/ads/{ad}"),
    ("POST", "/v1/ads/{ad}/archive"),
    ("POST", "/v1/ads/{ad}/review"),
    ("GET", "/v1/api-keys"),
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys/{key}"),
    ("POST", "/v1/api-keys/{key}/revoke"),
]

# Who may call what; every other role gets 403.
ALLOWED = {
    ("GET", "/v1/advertisers"): {"admin", "advertiser", "finance"},
    ("GET", "/v1/advertisers/{advertiser}"): {"admin", "advertiser", "finance"},
    ("POST", "/v1/advertisers"): {"admin"},
    ("PATCH", "/v1/advertisers/{advertiser}"): {"admin"},
    ("POST", "/v1/advertisers/{advertiser}/archive"): {"admin"},
    ("POST", "/v1/ads/{ad}/review"): {"admin"},
}
MANAGERS = {"admin", "advertiser"}


def _fill(path: str, tree: dict, suffix: str = "") -> str:
    return path.format(
        advertiser=tree["advertiser"]["id"] + suffix,
        campaign=tree["campaign"]["id"] + suffix,
        ad_group=tree["ad_group"]["id"] + suffix,
        ad=tree["ad"]["id"] + suffix,
        key=tree["advertiser"]["api_key"]["id"] + suffix,
    )


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_key_is_401(client, tree, method, path):
    response = client.open(_fill(path, tree), method=method, json={})
    assert response.status_code == 401
    assert response.json["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer am_unknownprefix_secret",
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
def test_bad_keys_are_401(client, tree, header):
    response = client.get("/v1/campaigns", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["code"] == "unauthenticated"


def test_right_prefix_wrong_secret_is_401(client, tree):
    key = tree["api"].key
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    response = client.get("/v1/campaigns", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


def test_revoked_key_is_401_at_once(admin, tree):
    api = tree["api"]
    assert api.get("/v1/campaigns").status_code == 200
    key_id = tree["advertiser"]["api_key"]["id"]
    assert admin.post(f"/v1/api-keys/{key_id}/revoke").status_code == 200
    response = api.get("/v1/campaigns")
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("role", ["admin", "advertiser", "finance", "feed"])
def test_roles(request, tree, admin, method, path, role):
    api = tree["api"] if role == "advertiser" else request.getfixturevalue(role)
    if role == "admin":
        api = admin
    response = api.request(method, _fill(path, tree), json={})
    allowed = ALLOWED.get((method, path), MANAGERS)
    if role in allowed:
        assert response.status_code not in (401, 403), response.json
    else:
        assert response.status_code == 403, response.json
        assert response.json["code"] == "forbidden"


OWNED = [
    ("GET", "/v1/advertisers/{advertiser}"),
    ("GET", "/v1/campaigns/{campaign}"),
    ("PATCH", "/v1/campaigns/{campaign}"),
    ("POST", "/v1/campaigns/{campaign}/archive"),
    ("GET", "/v1/ad-groups/{ad_group}"),
    ("PATCH", "/v1/ad-groups/{ad_group}"),
    ("POST", "/v1/ad-groups/{ad_group}/archive"),
    ("GET", "/v1/ads/{ad}"),
    ("PATCH", "/v1/ads/{ad}"),
    ("POST", "/v1/ads/{ad}/archive"),
    ("GET", "/v1/api-keys/{key}"),
    ("POST", "/v1/api-keys/{key}/revoke"),
]


@pytest.mark.parametrize(("method", "path"), OWNED)
def test_another_advertisers_objects_are_404(tree, globex, method, path):
    _, intruder = globex
    response = intruder.request(method, _fill(path, tree), json={"name": "mine now"})
    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    # The same answer as for an id that does not exist at all.
    missing = intruder.request(method, _fill(path, tree, suffix="zz"), json={"name": "x"})
    assert missing.status_code == 404
    assert missing.json["message"] == response.json["message"]
    # And nothing changed for the owner.
    owner_view = tree["api"].get(_fill(path, tree).removesuffix("/archive").removesuffix("/revoke"))
    assert owner_view.status_code == 200
    assert owner_view.json.get("status") != "ARCHIVED"
    assert owner_view.json.get("revoked_at") is None
    assert owner_view.json.get("name") != "mine now"


def test_lists_show_only_own_objects(tree, globex):
    other_advertiser, intruder = globex
    make_ad(intruder, make_ad_group(intruder, make_campaign(intruder)["id"])["id"])
    for path in ("/v1/advertisers", "/v1/campaigns", "/v1/ad-groups", "/v1/ads", "/v1/api-keys"):
        mine = tree["api"].get(path).json["items"]
        theirs = intruder.get(path).json["items"]
        assert len(mine) == 1 and len(theirs) == 1, path
        owner = "id" if path == "/v1/advertisers" else "advertiser_id"
        assert mine[0][owner] == tree["advertiser"]["id"]
        assert theirs[0][owner] == other_advertiser["id"]
    # Filtering by another advertiser's id shows nothing rather than failing.
    response = intruder.get(f"/v1/campaigns?advertiser_id={tree['advertiser']['id']}")
    assert response.status_code == 200 and response.json["items"] == []


def test_children_cannot_be_created_under_another_advertisers_parent(tree, globex):
    _, intruder = globex
    response = intruder.post(
        "/v1/ad-groups",
        json={
            "campaign_id": tree["campaign"]["id"],
            "name": "x",
            "billing_event": "CPM",
            "bid_micros": 1_000_000,
        },
    )
    assert response.status_code == 422
    assert response.json["fields"] == {"campaign_id": ["Campaign not found."]}
    response = intruder.post(
        "/v1/campaigns", json={**CAMPAIGN, "advertiser_id": tree["advertiser"]["id"]}
    )
    assert response.status_code == 422
    assert response.json["fields"] == {"advertiser_id": ["Advertiser not found."]}

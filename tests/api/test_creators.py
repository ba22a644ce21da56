"""PUT/GET /v1/creators: the platform registers creators under its own ids."""

from __future__ import annotations

import pytest

from tests.factories import count_rows

ALICE = {
    "country": "US",
    "verified_age": 30,
    "followers": 50_000,
    "standing": "GOOD",
    "joined_on": "2026-01-15",
    "stripe_account_id": "acct_1Alice",
}


def put(api, creator_id: str, body: dict):
    return api.request("PUT", f"/v1/creators/{creator_id}", json=body)


def test_put_creates_then_updates_and_leaves_equal_values_alone(feed):
    created = put(feed, "alice", ALICE)
    assert created.status_code == 201, created.json
    body = created.json
    assert {key: body[key] for key in ALICE} == ALICE
    assert set(body) == {*ALICE, "id", "created_at", "updated_at"}
    assert body["id"] == "alice"
    assert body["created_at"] == body["updated_at"]

    again = put(feed, "alice", ALICE)
    assert again.status_code == 200
    assert again.json == body  # nothing changed, not even updated_at

    changed = put(feed, "alice", {**ALICE, "followers": 60_000, "standing": "WARNED"})
    assert changed.status_code == 200
    assert changed.json["followers"] == 60_000 and changed.json["standing"] == "WARNED"
    assert changed.json["created_at"] == body["created_at"]
    assert changed.json["updated_at"] > body["updated_at"]


def test_optional_fields_left_out_are_null(admin):
    response = put(
        admin, "platform:42.b-c_d", {"country": "GB", "followers": 0, "standing": "BANNED"}
    )
    assert response.status_code == 201, response.json
    assert response.json["verified_age"] is None
    assert response.json["joined_on"] is None
    assert response.json["stripe_account_id"] is None
    # PUT replaces: fields left out again become null.
    put(admin, "bob", ALICE)
    replaced = put(admin, "bob", {"country": "US", "followers": 1, "standing": "GOOD"})
    assert replaced.status_code == 200
    assert replaced.json["joined_on"] is None and replaced.json["verified_age"] is None


def test_get_and_unknown_creator_is_404(feed, finance):
    put(feed, "alice", ALICE)
    assert finance.get("/v1/creators/alice").json["country"] == "US"
    missing = finance.get("/v1/creators/nobody")
    assert missing.status_code == 404
    assert missing.json["code"] == "not_found"
    assert set(missing.json) == {"code", "message", "fields", "request_id"}
    assert finance.get("/v1/creators/not%20an%20id").status_code == 404


def test_list_pages_in_id_order_and_filters_by_standing(feed, admin):
    for index, standing in enumerate(["GOOD", "WARNED", "GOOD", "SUSPENDED", "GOOD"]):
        assert put(feed, f"c{index}", {**ALICE, "standing": standing}).status_code == 201
    first = admin.get("/v1/creators?page_size=2")
    assert first.status_code == 200
    assert [c["id"] for c in first.json["items"]] == ["c0", "c1"]
    token = first.json["next_page_token"]
    second = admin.get(f"/v1/creators?page_size=2&page_token={token}")
    assert [c["id"] for c in second.json["items"]] == ["c2", "c3"]
    third = admin.get(f"/v1/creators?page_size=2&page_token={second.json['next_page_token']}")
    assert [c["id"] for c in third.json["items"]] == ["c4"]
    assert third.json["next_page_token"] is None

    good = feed.get("/v1/creators?standing=GOOD").json["items"]
    assert [c["id"] for c in good] == ["c0", "c2", "c4"]
    assert feed.get("/v1/creators?standing=NICE").status_code == 422
    assert feed.get("/v1/creators?page_token=bm9wZQ").status_code == 422


def test_roles(client, feed, admin, finance, acme):
    _, advertiser = acme
    anonymous = feed.as_key(None)
    assert put(anonymous, "alice", ALICE).status_code == 401
    assert anonymous.get("/v1/creators").status_code == 401
    assert put(advertiser, "alice", ALICE).status_code == 403
    assert advertiser.get("/v1/creators").status_code == 403
    assert advertiser.get("/v1/creators/alice").status_code == 403
    assert put(finance, "alice", ALICE).status_code == 403
    assert put(admin, "alice", ALICE).status_code == 201
    for api in (feed, admin, finance):
        assert api.get("/v1/creators").status_code == 200
        assert api.get("/v1/creators/alice").status_code == 200


@pytest.mark.parametrize(
    ("creator_id", "change", "field"),
    [
        ("alice", {"country": "XX"}, "country"),
        ("alice", {"country": "us"}, "country"),
        ("alice", {"country": "USA"}, "country"),
        ("alice", {"verified_age": 12}, "verified_age"),
        ("alice", {"verified_age": 131}, "verified_age"),
        ("alice", {"verified_age": "30"}, "verified_age"),
        ("alice", {"followers": -1}, "followers"),
        ("alice", {"followers": 1.5}, "followers"),
        ("alice", {"followers": None}, "followers"),
        ("alice", {"standing": "NICE"}, "standing"),
        ("alice", {"joined_on": "yesterday"}, "joined_on"),
        ("alice", {"stripe_account_id": "cus_123"}, "stripe_account_id"),
        ("alice", {"stripe_account_id": "acct_"}, "stripe_account_id"),
        ("alice", {"stripe_account_id": "acct_" + "a" * 251}, "stripe_account_id"),
        ("alice", {"nickname": "Al"}, "nickname"),
        ("a" * 65, {}, "creator_id"),
        ("bad%20id", {}, "creator_id"),
        ("caf%C3%A9", {}, "creator_id"),
        ("alice%0A", {}, "creator_id"),  # Python's "$" matches before a final newline
        ("alice", {"stripe_account_id": "acct_1Alice\n"}, "stripe_account_id"),
    ],
)
def test_invalid_input_is_422_with_field_details_and_writes_nothing(
    feed, db, creator_id, change, field
):
    response = put(feed, creator_id, {**ALICE, **change})
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_failed"
    assert field in response.json["fields"], response.json
    assert count_rows(db, "creators") == 0


def test_a_missing_required_field_is_422(feed, db):
    body = {key: value for key, value in ALICE.items() if key != "country"}
    response = put(feed, "alice", body)
    assert response.status_code == 422
    assert "country" in response.json["fields"]
    assert count_rows(db, "creators") == 0


def test_longest_ids_and_accounts_are_accepted(feed):
    long_id = "A1_.:-" + "z" * 58
    response = put(feed, long_id, {**ALICE, "stripe_account_id": "acct_" + "x" * 250})
    assert response.status_code == 201, response.json
    assert feed.get(f"/v1/creators/{long_id}").json["id"] == long_id

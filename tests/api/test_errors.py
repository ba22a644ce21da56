"""Bad input gets a 4xx in the one error shape, never a 500, and writes nothing."""

import json

import pytest

from tests.factories import CAMPAIGN, count_rows

SHAPE = {"code", "message", "fields", "request_id"}


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert set(response.json) == SHAPE
    assert response.json["code"] == code
    assert response.json["message"]


@pytest.mark.parametrize("raw", ['{"name": ', "{'single': 'quotes'}", "nul", '{"a": 1}}'])
def test_malformed_json_is_400(acme, db, raw):
    response = acme[1].post("/v1/campaigns", data=raw, headers={"Content-Type": "application/json"})
    _assert_error(response, 400, "malformed_json")
    assert count_rows(db, "campaigns") == 0


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000 + "]" * 100_000,  # valid JSON, nested past Python's recursion limit
        '{"name": "C", "budget_micros": ' + "9" * 4_301 + "}",  # past int()'s 4,300 digits
    ],
)
def test_json_that_python_cannot_read_is_400_not_500(acme, db, raw):
    response = acme[1].post("/v1/campaigns", data=raw, headers={"Content-Type": "application/json"})
    _assert_error(response, 400, "malformed_json")
    assert count_rows(db, "campaigns") == 0


@pytest.mark.parametrize("depth", [700, 900, 950, 980])
def test_lists_nested_deep_inside_a_body_are_4xx_not_500(acme, db, depth):
    campaign = acme[1].post("/v1/campaigns", json=CAMPAIGN).json
    # Shallow enough for the JSON reader, deeper than a recursive check of the text could go
    # (the request's own frames are already on the stack).
    countries = "[" * depth + '"US"' + "]" * depth
    raw = (
        f'{{"campaign_id": "{campaign["id"]}", "name": "G", "billing_event": "CPM", '
        f'"bid_micros": 1000000, "targeting": {{"countries": {countries}}}}}'
    )
    response = acme[1].post("/v1/ad-groups", data=raw, headers={"Content-Type": "application/json"})
    # Read as JSON (then refused by the schema) or too deep for Python's reader: never a 500.
    assert (response.status_code, response.json["code"]) in (
        (422, "validation_failed"),
        (400, "malformed_json"),
    )
    assert set(response.json) == SHAPE
    assert count_rows(db, "ad_groups") == 0


@pytest.mark.parametrize("body", [[], [CAMPAIGN], "text", 42, None])
def test_a_body_that_is_not_an_object_is_422(acme, db, body):
    response = acme[1].post(
        "/v1/campaigns", data=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert set(response.json) == SHAPE
    assert count_rows(db, "campaigns") == 0


def test_field_errors_name_the_field(acme):
    response = acme[1].post(
        "/v1/campaigns", json={**CAMPAIGN, "budget_micros": "lots", "colour": "red"}
    )
    _assert_error(response, 422, "validation_failed")
    assert response.json["fields"] == {
        "budget_micros": ["Not a valid integer."],
        "colour": ["Unknown field."],
    }


def test_a_body_that_is_not_json_is_415(acme, db):
    response = acme[1].post(
        "/v1/campaigns",
        data="name=x&objective=REACH",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    _assert_error(response, 415, "unsupported_media_type")
    assert count_rows(db, "campaigns") == 0


def test_an_empty_body_is_422(acme):
    response = acme[1].post("/v1/campaigns")
    _assert_error(response, 422, "validation_failed")


def test_an_oversized_body_is_413(acme, db):
    huge = {**CAMPAIGN, "name": "x", "padding": "y" * 2_000_000}
    response = acme[1].post("/v1/campaigns", json=huge)
    _assert_error(response, 413, "payload_too_large")
    assert count_rows(db, "campaigns") == 0


@pytest.mark.parametrize(
    "bad_id",
    [
        "x" * 500,
        "cmp_%00",
        "cmp_'; DROP TABLE campaigns;--",
        "..%2F..%2Fetc%2Fpasswd",
        "🙂",
        "cmp_01",
    ],
)
def test_bad_ids_are_404(acme, bad_id):
    for method in ("GET", "PATCH"):
        response = acme[1].request(method, f"/v1/campaigns/{bad_id}", json={"name": "x"})
        _assert_error(response, 404, "not_found")


def test_bad_ids_in_bodies_are_422(acme, db):
    response = acme[1].post(
        "/v1/ad-groups",
        json={"campaign_id": "x" * 41, "name": "x", "billing_event": "CPM", "bid_micros": 1},
    )
    _assert_error(response, 422, "validation_failed")
    assert "campaign_id" in response.json["fields"]
    assert count_rows(db, "ad_groups") == 0


def test_unknown_routes_and_methods(acme):
    _assert_error(acme[1].get("/v1/nothing-here"), 404, "not_found")
    response = acme[1].request("DELETE", "/v1/campaigns")
    _assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_internal_errors_keep_the_shape(app, admin, monkeypatch):
    from adsmanager.services import campaigns

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(campaigns, "list_campaigns", explode)
    response = admin.get("/v1/campaigns")
    _assert_error(response, 500, "internal")
    assert "boom" not in response.get_data(as_text=True)


def test_a_failure_half_way_writes_nothing(acme, db, monkeypatch):
    """Archiving a campaign touches three tables; a failure on the last rolls back all."""
    from adsmanager.services import campaigns, objects
    from tests.factories import make_ad, make_ad_group, make_campaign

    api = acme[1]
    campaign = make_campaign(api)
    make_ad(api, make_ad_group(api, campaign["id"])["id"])
    real = objects.archive_children

    def fail_after_ad_groups(session, column, parent_id, *models):
        real(session, column, parent_id, models[0])
        raise RuntimeError("disk full")

    monkeypatch.setattr(campaigns, "archive_children", fail_after_ad_groups)
    response = api.post(f"/v1/campaigns/{campaign['id']}/archive")
    assert response.status_code == 500
    for path in ("/v1/campaigns", "/v1/ad-groups", "/v1/ads"):
        assert {item["status"] for item in api.get(path).json["items"]} == {"ACTIVE"}


def test_nul_characters_are_422_on_every_database(acme, db):
    response = acme[1].post("/v1/campaigns", json={**CAMPAIGN, "name": "bad\x00name"})
    _assert_error(response, 422, "validation_failed")
    assert response.json["fields"] == {"name": ["Must not contain NUL characters."]}
    response = acme[1].post(
        "/v1/ad-groups",
        json={
            "campaign_id": "cmp_x",
            "name": "x",
            "billing_event": "CPM",
            "bid_micros": 1,
            "targeting": {"interests": ["ok", "no\x00"]},
        },
    )
    _assert_error(response, 422, "validation_failed")
    # The nested schema finds it, so the path names the field that holds it.
    assert response.json["fields"] == {"targeting.interests": ["Must not contain NUL characters."]}
    assert count_rows(db, "campaigns") == 0


def test_forged_page_tokens_are_422(acme):
    import base64

    for last_id in ("cmp_\x00", "'; --", ""):
        token = base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")
        response = acme[1].get(f"/v1/campaigns?page_token={token}")
        _assert_error(response, 422, "validation_failed")
        assert "page_token" in response.json["fields"]


def test_longest_names_fit(admin):
    response = admin.post(
        "/v1/advertisers", json={"name": "n" * 200, "currency": "USD", "timezone": "UTC"}
    )
    assert response.status_code == 201


def test_nul_characters_in_query_parameters_are_422(acme):
    response = acme[1].get("/v1/ads?campaign_id=%00x")
    _assert_error(response, 422, "validation_failed")
    assert response.json["fields"] == {"campaign_id": ["Must not contain NUL characters."]}


def test_lone_surrogates_are_422(acme, db):
    raw = (
        '{"name": "bad \\ud800 text", "objective": "TRAFFIC", "budget_mode": "DAILY", '
        '"budget_micros": 1000000}'
    )
    response = acme[1].post("/v1/campaigns", data=raw, headers={"Content-Type": "application/json"})
    _assert_error(response, 422, "validation_failed")
    assert response.json["fields"] == {"name": ["Must be valid Unicode text."]}
    assert count_rows(db, "campaigns") == 0

"""Builders for test data, through the public API where a user would go."""

from __future__ import annotations

from sqlalchemy import text

from adsmanager.db import Database


class ApiClient:
    """The Flask test client with an API key on every request."""

    def __init__(self, client, key: str | None) -> None:
        self._client = client
        self.key = key

    def _headers(self, headers: dict | None) -> dict:
        merged = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return {**merged, **(headers or {})}

    def request(self, method: str, path: str, *, json=None, headers=None, **kwargs):
        return self._client.open(
            path, method=method, json=json, headers=self._headers(headers), **kwargs
        )

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json=None, **kwargs):
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def as_key(self, key: str | None) -> ApiClient:
        return ApiClient(self._client, key)


# What a test advertiser is given to spend (an admin credit), unless a test says otherwise.
TEST_FUNDS_MICROS = 10_000_000_000


def create_advertiser(
    admin: ApiClient,
    name: str = "Acme",
    currency: str = "USD",
    timezone: str = "America/New_York",
    funds_micros: int = TEST_FUNDS_MICROS,
) -> tuple[dict, ApiClient]:
    response = admin.post(
        "/v1/advertisers", json={"name": name, "currency": currency, "timezone": timezone}
    )
    assert response.status_code == 201, response.json
    body = response.json
    if funds_micros:
        credit(admin, body["id"], funds_micros)
    return body, admin.as_key(body["api_key"]["key"])


def credit(admin: ApiClient, advertiser_id: str, micros: int, reason: str = "test funds") -> dict:
    response = admin.post(
        f"/v1/advertisers/{advertiser_id}/credits", json={"amount_micros": micros, "reason": reason}
    )
    assert response.status_code == 201, response.json
    return response.json


CAMPAIGN = {
    "name": "Spring sale",
    "objective": "TRAFFIC",
    "budget_mode": "DAILY",
    "budget_micros": 50_000_000,
}
AD_GROUP = {
    "name": "Young US",
    "billing_event": "CPC",
    "bid_micros": 1_500_000,
    "targeting": {"countries": ["US"], "age_groups": ["18-24", "25-34"]},
}
CREATIVE = {
    "video_url": "https://cdn.example.com/v/1.mp4",
    "caption": "Spring is here",
    "call_to_action": "SHOP_NOW",
    "landing_url": "https://shop.example.com/spring",
    "display_name": "Acme",
}


def make_campaign(api: ApiClient, **overrides) -> dict:
    response = api.post("/v1/campaigns", json={**CAMPAIGN, **overrides})
    assert response.status_code == 201, response.json
    return response.json


def make_ad_group(api: ApiClient, campaign_id: str, **overrides) -> dict:
    response = api.post("/v1/ad-groups", json={**AD_GROUP, "campaign_id": campaign_id, **overrides})
    assert response.status_code == 201, response.json
    return response.json


def make_ad(api: ApiClient, ad_group_id: str, **overrides) -> dict:
    response = api.post(
        "/v1/ads",
        json={
            "ad_group_id": ad_group_id,
            "name": "Spot 1",
            "creative": dict(CREATIVE),
            **overrides,
        },
    )
    assert response.status_code == 201, response.json
    return response.json


def count_rows(db: Database, table: str) -> int:
    with db.transaction() as session:
        return session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()

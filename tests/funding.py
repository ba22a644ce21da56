"""Paying like an advertiser's browser would, and delivering Stripe's events, in tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import stripe

from tests.conftest import WEBHOOK_SECRET
from tests.factories import ApiClient
from tests.stripe_server import StripeServer


def stripe_client(server: StripeServer) -> stripe.StripeClient:
    return stripe.StripeClient(server.api_key, base_addresses={"api": server.url})


def start_top_up(api: ApiClient, micros: int, key: str | None = None, **extra) -> dict:
    headers = {"Idempotency-Key": key} if key else None
    response = api.post(
        "/v1/funding/top-ups", json={"amount_micros": micros, **extra}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json


def pay(server: StripeServer, payment_intent_id: str, payment_method: str = "pm_card_visa"):
    """What Stripe.js does with the client secret: attach a card and confirm."""
    client = stripe_client(server)
    client.v1.payment_intents.update(payment_intent_id, params={"payment_method": payment_method})
    return client.v1.payment_intents.confirm(payment_intent_id)


def stripe_event(server: StripeServer, event_type: str, object_id: str) -> dict:
    """The event localstripe recorded for an object, as Stripe would deliver it."""
    events = stripe_client(server).v1.events.list(params={"type": event_type, "limit": 100})
    for event in events.auto_paging_iter():  # newest first, over every page
        body = event.to_dict()
        if body["data"]["object"]["id"] == object_id:
            return body
    raise AssertionError(f"no {event_type} event for {object_id}")


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def deliver(client, event: dict, secret: str = WEBHOOK_SECRET, at: int | None = None):
    """POST the event to our webhook, signed as Stripe signs it."""
    payload = json.dumps(event).encode()
    return client.post(
        "/v1/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": signature(payload, secret, at)},
        content_type="application/json",
    )


def balance(api: ApiClient, advertiser_id: str | None = None) -> dict:
    query = f"?advertiser_id={advertiser_id}" if advertiser_id else ""
    response = api.get(f"/v1/funding/balance{query}")
    assert response.status_code == 200, response.json
    return response.json

"""Top-ups through Stripe (localstripe, through the official SDK), its webhooks, refunds and
credits, end to end through the API."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import stripe
from sqlalchemy import select
from werkzeug.serving import make_server

from adsmanager import create_app
from adsmanager.db.funding import Refund
from adsmanager.services import refunds
from adsmanager.services.access import Actor
from adsmanager.serving import balances
from adsmanager.vocabulary import RefundStatus, Role
from billing.money import Money
from billing.stripe_gateway import Refund as StripeRefund
from tests.conftest import WEBHOOK_SECRET, stripe_settings
from tests.factories import count_rows, create_advertiser
from tests.funding import balance, deliver, pay, start_top_up, stripe_client, stripe_event
from tests.ledger_data import charge
from tests.stripe_server import free_port


@pytest.fixture
def unfunded(admin):
    return create_advertiser(admin, name="Initech", funds_micros=0)


def test_a_top_up_is_credited_once_stripe_confirms_it(client, unfunded, stripe_server):
    advertiser, api = unfunded
    top_up = start_top_up(api, 25_000_000)
    assert top_up["status"] == "PENDING" and top_up["client_secret"].startswith("pi_")
    assert top_up["publishable_key"] == stripe_server.publishable_key
    intent = stripe_client(stripe_server).v1.payment_intents.retrieve(top_up["payment_intent_id"])
    assert (intent.amount, intent.currency) == (2500, "usd")
    assert intent.metadata["top_up_id"] == top_up["id"]
    # Confirming with Stripe alone credits nothing: only Stripe's signed event does.
    assert pay(stripe_server, top_up["payment_intent_id"]).status == "succeeded"
    assert balance(api)["available_micros"] == 0
    event = stripe_event(stripe_server, "payment_intent.succeeded", top_up["payment_intent_id"])
    delivered = deliver(client, event)
    assert delivered.status_code == 200
    assert delivered.json["outcome"] == "credited 25.00 USD"
    assert balance(api) == {
        "advertiser_id": advertiser["id"],
        "currency": "USD",
        "ledger_balance_micros": 25_000_000,
        "unposted_spend_micros": 0,
        "pending_refunds_micros": 0,
        "available_micros": 25_000_000,
    }
    assert api.get(f"/v1/funding/top-ups/{top_up['id']}").json["status"] == "SUCCEEDED"


def test_a_replayed_webhook_credits_once(client, unfunded, stripe_server):
    _, api = unfunded
    top_up = start_top_up(api, 10_000_000)
    pay(stripe_server, top_up["payment_intent_id"])
    event = stripe_event(stripe_server, "payment_intent.succeeded", top_up["payment_intent_id"])
    outcomes = [deliver(client, event).json["outcome"] for _ in range(3)]
    assert outcomes == ["credited 10.00 USD"] + ["duplicate: already handled"] * 2
    # The same payment in another event (Stripe may send a new event id) is not credited
    # again either: the ledger's key is the PaymentIntent.
    assert deliver(client, {**event, "id": "evt_another"}).json["outcome"] == "already credited"
    assert balance(api)["ledger_balance_micros"] == 10_000_000
    assert count_rows(client.application.extensions["adsmanager.db"], "journal_entries") == 1


def test_a_declined_card_credits_nothing(client, unfunded, stripe_server):
    _, api = unfunded
    top_up = start_top_up(api, 10_000_000)
    with pytest.raises(stripe.CardError):
        pay(stripe_server, top_up["payment_intent_id"], "pm_card_visa_chargeDeclined")
    event = stripe_event(
        stripe_server, "payment_intent.payment_failed", top_up["payment_intent_id"]
    )
    assert deliver(client, event).json["outcome"] == "marked FAILED"
    stored = api.get(f"/v1/funding/top-ups/{top_up['id']}").json
    assert stored["status"] == "FAILED" and "declined" in stored["failure_reason"]
    assert balance(api)["ledger_balance_micros"] == 0


def test_a_bad_signature_is_rejected_and_credits_nothing(client, db, unfunded, stripe_server):
    _, api = unfunded
    top_up = start_top_up(api, 10_000_000)
    pay(stripe_server, top_up["payment_intent_id"])
    event = stripe_event(stripe_server, "payment_intent.succeeded", top_up["payment_intent_id"])
    forged = deliver(client, event, secret="whsec_not_ours")
    assert forged.status_code == 400 and forged.json["code"] == "bad_request"
    stale = deliver(client, event, at=int(time.time()) - 301)
    assert stale.status_code == 400
    unsigned = client.post("/v1/webhooks/stripe", json=event)
    assert unsigned.status_code == 400 and "missing" in unsigned.json["message"]
    assert balance(api)["ledger_balance_micros"] == 0
    assert count_rows(db, "stripe_events") == 0
    # The genuine delivery still works afterwards.
    assert deliver(client, event).json["outcome"] == "credited 10.00 USD"


def test_localstripe_delivers_its_signed_webhook_to_the_running_server(
    database_url, admin, stripe_server
):
    """The whole path over HTTP: our server runs, localstripe posts the signed event to it."""
    port = free_port()
    app = create_app(
        {
            "database_url": database_url,
            "secret_key": "test-secret",
            **stripe_settings(stripe_server),
        }
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stripe_server.send_webhooks_to(f"http://127.0.0.1:{port}/v1/webhooks/stripe", WEBHOOK_SECRET)
    try:
        _, api = create_advertiser(admin, name="Hooli", funds_micros=0)
        top_up = start_top_up(api, 42_000_000)
        pay(stripe_server, top_up["payment_intent_id"])
        deadline = time.monotonic() + 10
        while balance(api)["ledger_balance_micros"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert balance(api)["ledger_balance_micros"] == 42_000_000
    finally:
        stripe_server.send_webhooks_to("http://127.0.0.1:9/unused", WEBHOOK_SECRET)
        server.shutdown()


def test_the_same_idempotency_key_is_the_same_top_up(unfunded, db):
    _, api = unfunded
    first = start_top_up(api, 5_000_000, key="order-17")
    again = start_top_up(api, 5_000_000, key="order-17")
    assert again["id"] == first["id"]
    assert again["client_secret"] == first["client_secret"]
    assert count_rows(db, "top_ups") == 1
    other = api.post(
        "/v1/funding/top-ups",
        json={"amount_micros": 6_000_000},
        headers={"Idempotency-Key": "order-17"},
    )
    assert other.status_code == 409 and other.json["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("micros", "message"),
    [(1_234_567, "whole number of USD minor units"), (500_000, "between"), (0, "")],
)
def test_a_bad_amount_is_refused_and_nothing_is_created(unfunded, db, micros, message):
    advertiser, api = unfunded
    response = api.post("/v1/funding/top-ups", json={"amount_micros": micros})
    assert response.status_code == 422
    assert message in " ".join(response.json["fields"]["amount_micros"])
    assert count_rows(db, "top_ups") == 0


def test_zero_decimal_currencies_are_sent_in_whole_units(admin, stripe_server):
    _, api = create_advertiser(admin, name="Nintendo", currency="JPY", funds_micros=0)
    top_up = start_top_up(api, 5_000 * 1_000_000)
    intent = stripe_client(stripe_server).v1.payment_intents.retrieve(top_up["payment_intent_id"])
    assert (intent.amount, intent.currency) == (5000, "jpy")
    refused = api.post("/v1/funding/top-ups", json={"amount_micros": 5_000_500_000})
    assert refused.status_code == 422


def test_stripe_down_is_a_clear_error_and_changes_nothing(database_url, admin, db):
    advertiser, _ = create_advertiser(admin, name="Pied Piper", funds_micros=0)
    down = create_app(
        {
            "database_url": database_url,
            "secret_key": "test-secret",
            "stripe_api_key": "sk_test_down",
            "stripe_api_base": f"http://127.0.0.1:{free_port()}",
        }
    ).test_client()
    response = down.post(
        "/v1/funding/top-ups",
        json={"amount_micros": 10_000_000, "advertiser_id": advertiser["id"]},
        headers={"Authorization": f"Bearer {admin.key}"},
    )
    assert response.status_code == 503
    assert response.json["code"] == "payment_provider_unavailable"
    assert count_rows(db, "top_ups") == 0
    assert admin.get(f"/v1/advertisers/{advertiser['id']}").status_code == 200
    with db.transaction() as session:
        from adsmanager.db.models import Advertiser

        assert session.get(Advertiser, advertiser["id"]).stripe_customer_id is None


def test_an_advertiser_tops_up_only_its_own_account(unfunded, admin):
    other, _ = create_advertiser(admin, name="Globex", funds_micros=0)
    _, api = unfunded
    response = api.post(
        "/v1/funding/top-ups", json={"amount_micros": 5_000_000, "advertiser_id": other["id"]}
    )
    assert response.status_code == 404


def _paid_top_up(client, api, server, micros: int) -> dict:
    top_up = start_top_up(api, micros)
    pay(server, top_up["payment_intent_id"])
    deliver(client, stripe_event(server, "payment_intent.succeeded", top_up["payment_intent_id"]))
    return top_up


def test_an_admin_refunds_part_of_a_top_up(client, admin, unfunded, stripe_server):
    advertiser, api = unfunded
    top_up = _paid_top_up(client, api, stripe_server, 30_000_000)
    path = f"/v1/advertisers/{advertiser['id']}/refunds"
    body = {"top_up_id": top_up["id"], "amount_micros": 12_000_000, "reason": "unused budget"}
    assert api.post(path, json=body).status_code == 403  # advertisers cannot refund themselves
    refunded = admin.post(path, json=body)
    assert refunded.status_code == 201, refunded.json
    assert refunded.json["status"] == "SUCCEEDED" and refunded.json["reason"] == "unused budget"
    refund = stripe_client(stripe_server).v1.refunds.retrieve(refunded.json["stripe_refund_id"])
    assert (refund.amount, refund.payment_intent) == (1200, top_up["payment_intent_id"])
    assert balance(api)["ledger_balance_micros"] == 18_000_000
    too_much = admin.post(path, json={**body, "amount_micros": 18_000_001})
    assert too_much.status_code == 422  # not whole cents
    too_much = admin.post(path, json={**body, "amount_micros": 18_010_000})
    assert too_much.status_code == 422 and "At most 18000000" in str(too_much.json["fields"])
    assert balance(api)["ledger_balance_micros"] == 18_000_000
    entries = admin.get(f"/v1/ledger/entries?advertiser_id={advertiser['id']}").json["items"]
    assert [(e["kind"], e["memo"]) for e in entries][0] == ("REFUND", "unused budget")


def test_a_refund_never_exceeds_what_is_left_unspent(client, admin, unfunded, stripe_server, db):
    advertiser, api = unfunded
    top_up = _paid_top_up(client, api, stripe_server, 30_000_000)
    charge(db, advertiser["id"], 25_000_000)  # spent, not yet posted
    response = admin.post(
        f"/v1/advertisers/{advertiser['id']}/refunds",
        json={"top_up_id": top_up["id"], "amount_micros": 10_000_000, "reason": "too much"},
    )
    assert response.status_code == 422
    assert "5000000 of the balance are not spent" in str(response.json["fields"])


def test_a_manual_credit_records_the_reason_and_who_gave_it(admin, unfunded):
    advertiser, api = unfunded
    path = f"/v1/advertisers/{advertiser['id']}/credits"
    body = {"amount_micros": 7_500_000, "reason": "make-good for the outage"}
    headers = {"Idempotency-Key": "ticket-4411"}
    first = admin.post(path, json=body, headers=headers)
    again = admin.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json["entry_id"] == again.json["entry_id"]
    assert balance(api)["ledger_balance_micros"] == 7_500_000
    reused = admin.post(path, json={**body, "amount_micros": 1_000_000}, headers=headers)
    assert reused.status_code == 409
    assert api.post(path, json=body).status_code == 403
    assert admin.post(path, json={"amount_micros": 1_000_000, "reason": ""}).status_code == 422
    entry = admin.get("/v1/ledger/entries?kind=MANUAL_CREDIT").json["items"][0]
    assert entry["memo"] == "make-good for the outage"
    assert entry["created_by"] == first.json["created_by"] != ""
    assert sorted(p["amount_micros"] for p in entry["postings"]) == [-7_500_000, 7_500_000]


def test_a_refund_retried_with_its_key_is_the_same_refund(client, admin, unfunded, stripe_server):
    advertiser, api = unfunded
    top_up = _paid_top_up(client, api, stripe_server, 30_000_000)
    path = f"/v1/advertisers/{advertiser['id']}/refunds"
    body = {"top_up_id": top_up["id"], "amount_micros": 30_000_000, "reason": "closing"}
    headers = {"Idempotency-Key": "refund-77"}
    first = admin.post(path, json=body, headers=headers)
    again = admin.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.json
    assert again.json == first.json
    assert balance(api)["ledger_balance_micros"] == 0
    other = admin.post(path, json={**body, "amount_micros": 1_000_000}, headers=headers)
    assert other.status_code == 409 and other.json["code"] == "idempotency_key_reused"


def _refund_while_stripe_is_down(admin, path: str, body: dict, database_url: str) -> None:
    headers = {"Authorization": f"Bearer {admin.key}", "Idempotency-Key": "refund-down"}
    down = create_app(
        {
            "database_url": database_url,
            "secret_key": "test-secret",
            "stripe_api_key": "sk_test_down",
            "stripe_api_base": f"http://127.0.0.1:{free_port()}",
        }
    ).test_client()
    response = down.post(path, json=body, headers=headers)
    assert response.status_code == 503 and "PENDING" in response.json["message"]


def test_a_refund_stripe_did_not_answer_stays_pending_until_retried(
    client, admin, unfunded, stripe_server, database_url, db
):
    advertiser, api = unfunded
    top_up = _paid_top_up(client, api, stripe_server, 20_000_000)
    path = f"/v1/advertisers/{advertiser['id']}/refunds"
    body = {"top_up_id": top_up["id"], "amount_micros": 15_000_000, "reason": "r"}
    _refund_while_stripe_is_down(admin, path, body, database_url)
    pending = balance(api)
    assert pending["ledger_balance_micros"] == 20_000_000  # nothing debited yet
    # ... but promised back: neither the auction nor the balance lets it be spent.
    assert pending["pending_refunds_micros"] == 15_000_000
    assert pending["available_micros"] == 5_000_000
    assert balances.load(db)[advertiser["id"]] == 5_000_000
    # The pending refund's money is promised: another refund cannot take it too.
    second = admin.post(path, json={**body, "amount_micros": 10_000_000})
    assert second.status_code == 422 and "At most 5000000" in str(second.json["fields"])
    finished = admin.post(path, json=body, headers={"Idempotency-Key": "refund-down"})
    assert finished.status_code == 201 and finished.json["status"] == "SUCCEEDED"
    assert balance(api)["ledger_balance_micros"] == 5_000_000


@pytest.mark.parametrize("answer", ["canceled", "failed"])
def test_a_refund_stripe_answers_it_will_not_make_is_failed_and_debits_nothing(
    client, admin, unfunded, stripe_server, database_url, db, answer
):
    advertiser, api = unfunded
    top_up = _paid_top_up(client, api, stripe_server, 20_000_000)
    path = f"/v1/advertisers/{advertiser['id']}/refunds"
    body = {"top_up_id": top_up["id"], "amount_micros": 15_000_000, "reason": "r"}
    _refund_while_stripe_is_down(admin, path, body, database_url)
    with db.read() as session:
        pending = session.scalars(select(Refund)).one()
    # Stripe's answer when asked again (localstripe never cancels a refund).
    made = StripeRefund(
        id=f"re_{answer}",
        status=answer,
        amount=Money("USD", 15_000_000),
        payment_intent_id=top_up["payment_intent_id"],
        created=datetime.now(UTC),
        metadata={},
    )
    finished = refunds._finish(db, pending.id, made, Actor("admin", Role.ADMIN))
    assert finished.status is RefundStatus.FAILED and answer in finished.failure_reason
    assert balance(api)["ledger_balance_micros"] == 20_000_000
    assert balance(api)["available_micros"] == 20_000_000  # no longer promised back


@pytest.mark.parametrize("top_up_id", ["top_%00x", "top_" + "x" * 100, "%C3%A9"])
def test_a_top_up_id_that_cannot_name_one_is_not_found(acme, top_up_id):
    response = acme[1].get(f"/v1/funding/top-ups/{top_up_id}")
    assert response.status_code == 404 and response.json["code"] == "not_found"

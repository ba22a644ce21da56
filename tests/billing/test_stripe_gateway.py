"""StripeGateway against localstripe through the official SDK, and webhook verification.

localstripe's PaymentIntent.confirm with a payment_method returns 500: the tests set the
payment method with an update, then confirm without one. Connect (accounts, transfers) and
idempotency keys come from tests/stripe_server.py's additions to localstripe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from unittest import mock

import pytest
import stripe

from billing.money import InexactAmount, Money
from billing.stripe_gateway import (
    REJECTED,
    UNAVAILABLE,
    BadWebhook,
    GatewayError,
    StripeGateway,
    verify_webhook,
)
from tests.stripe_server import StripeServer, free_port


@pytest.fixture(scope="module")
def server() -> Iterator[StripeServer]:
    started = StripeServer()
    yield started
    started.stop()


@pytest.fixture
def gateway(server: StripeServer) -> StripeGateway:
    return StripeGateway(server.api_key, api_base=server.url, max_network_retries=0)


@pytest.fixture
def customer_id(gateway: StripeGateway) -> str:
    return gateway.create_customer("Acme", {"advertiser_id": "adv_1"}, "customer-adv_1")


def confirm_with_visa(server: StripeServer, payment_intent_id: str) -> None:
    client = stripe.StripeClient(server.api_key, base_addresses={"api": server.url})
    client.v1.payment_intents.update(payment_intent_id, params={"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(payment_intent_id)


# --- customers and payment intents -----------------------------------------------------------


def test_create_customer_returns_a_stripe_customer_id(gateway):
    customer = gateway.create_customer("Acme", {"advertiser_id": "adv_1"}, "customer-1")
    assert customer.startswith("cus_")


def test_create_payment_intent_sends_cents_and_returns_micros(gateway, customer_id):
    intent = gateway.create_payment_intent(
        customer_id, Money("USD", 25_000_000), {"top_up_id": "tu_1"}, "top-up-tu_1"
    )
    assert intent.id.startswith("pi_")
    assert intent.amount == Money("USD", 25_000_000)
    assert intent.client_secret
    assert intent.metadata == {"top_up_id": "tu_1"}
    assert intent.status != "succeeded"
    assert gateway.retrieve_payment_intent(intent.id).metadata == {"top_up_id": "tu_1"}


def test_create_payment_intent_sends_whole_yen_for_jpy(gateway, customer_id, server):
    intent = gateway.create_payment_intent(customer_id, Money("JPY", 500_000_000), {}, "jpy-1")
    client = stripe.StripeClient(server.api_key, base_addresses={"api": server.url})
    raw = client.v1.payment_intents.retrieve(intent.id)
    assert (raw.amount, raw.currency) == (500, "jpy")  # ¥500, not 50000
    assert gateway.retrieve_payment_intent(intent.id).amount == Money("JPY", 500_000_000)


def test_an_inexact_amount_is_refused_before_any_request(gateway, customer_id):
    with mock.patch.object(stripe.RequestsClient, "request") as request:
        with pytest.raises(InexactAmount):
            gateway.create_payment_intent(customer_id, Money("USD", 1_234_567), {}, "inexact")
        with pytest.raises(InexactAmount):
            gateway.refund("pi_whatever", Money("USD", 5_000), {}, "inexact-refund")
    request.assert_not_called()


def test_an_unreachable_stripe_is_reported_as_unavailable():
    closed = StripeGateway(
        "sk_test_x", api_base=f"http://127.0.0.1:{free_port()}", max_network_retries=0
    )
    with pytest.raises(GatewayError) as raised:
        closed.create_customer("Acme", {}, "unreachable")
    assert raised.value.kind == UNAVAILABLE
    assert "nothing was charged" in raised.value.message


def test_a_confirmed_payment_intent_is_retrieved_as_succeeded(gateway, customer_id, server):
    intent = gateway.create_payment_intent(customer_id, Money("USD", 25_000_000), {}, "pay-1")
    confirm_with_visa(server, intent.id)
    retrieved = gateway.retrieve_payment_intent(intent.id)
    assert retrieved.id == intent.id
    assert retrieved.status == "succeeded"
    assert retrieved.amount == Money("USD", 25_000_000)


def test_a_partial_refund_comes_back_in_micros(gateway, customer_id, server):
    intent = gateway.create_payment_intent(customer_id, Money("USD", 25_000_000), {}, "pay-2")
    confirm_with_visa(server, intent.id)
    refunded = gateway.refund(intent.id, Money("USD", 10_000_000), {"reason": "x"}, "refund-1")
    assert refunded.id.startswith("re_")
    assert refunded.amount == Money("USD", 10_000_000)
    assert refunded.payment_intent_id == intent.id
    assert refunded.status == "succeeded"


def test_payment_intents_and_refunds_list_what_was_created(gateway, customer_id, server):
    first = gateway.create_payment_intent(customer_id, Money("USD", 5_000_000), {}, "list-1")
    second = gateway.create_payment_intent(customer_id, Money("KWD", 1_230_000), {}, "list-2")
    confirm_with_visa(server, first.id)
    refunded = gateway.refund(first.id, Money("USD", 1_000_000), {}, "list-refund")

    intents = {intent.id: intent for intent in gateway.payment_intents()}
    assert intents[first.id].amount == Money("USD", 5_000_000)
    assert intents[first.id].status == "succeeded"
    assert intents[second.id].amount == Money("KWD", 1_230_000)
    refunds = {each.id: each for each in gateway.refunds()}
    assert refunds[refunded.id].amount == Money("USD", 1_000_000)
    assert refunds[refunded.id].payment_intent_id == first.id


# --- Connect: accounts and transfers ----------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def sdk(server: StripeServer) -> stripe.StripeClient:
    return stripe.StripeClient(server.api_key, base_addresses={"api": server.url})


@pytest.fixture
def account(gateway: StripeGateway) -> str:
    return gateway.create_connected_account(
        "JP", "creator@example.com", {"creator_id": "cr_1"}, unique("account")
    )


def test_a_connected_account_is_express_and_can_receive_transfers(gateway, server):
    account_id = gateway.create_connected_account(
        "US", "creator@example.com", {"creator_id": "cr_2"}, unique("account")
    )
    raw = sdk(server).v1.accounts.retrieve(account_id)
    assert account_id.startswith("acct_")
    assert (raw.object, raw.type, raw.country, raw.email) == (
        "account",
        "express",
        "US",
        "creator@example.com",
    )
    assert raw.capabilities.transfers == "active"
    assert raw.metadata.to_dict() == {"creator_id": "cr_2"}
    assert account_id in {each.id for each in sdk(server).v1.accounts.list().auto_paging_iter()}


def test_transfers_send_exact_minor_units_and_are_listed_by_their_group(gateway, server, account):
    group = unique("payout-run")
    yen = gateway.create_transfer(
        Money("JPY", 500_000_000), account, group, unique("tr"), {"creator_id": "cr_1"}, "Fund"
    )
    dollars = gateway.create_transfer(Money("USD", 12_340_000), account, group, unique("tr"), {})
    gateway.create_transfer(Money("USD", 1_000_000), account, unique("other-run"), unique("tr"), {})

    assert yen.id.startswith("tr_")
    raw = sdk(server).v1.transfers.retrieve(yen.id)
    assert (raw.amount, raw.currency, raw.destination) == (500, "jpy", account)  # ¥500
    assert (raw.amount_reversed, raw.reversed, raw.livemode) == (0, False, False)
    assert raw.description == "Fund"
    listed = {each.id: each for each in gateway.transfers(transfer_group=group)}
    assert set(listed) == {yen.id, dollars.id}
    assert listed[yen.id] == yen
    assert listed[yen.id].amount == Money("JPY", 500_000_000)
    assert listed[dollars.id].amount == Money("USD", 12_340_000)
    assert (listed[yen.id].destination, listed[yen.id].transfer_group) == (account, group)
    assert listed[yen.id].metadata == {"creator_id": "cr_1"}
    assert listed[yen.id].reversed is False


def test_the_same_key_and_parameters_return_the_first_transfer_and_make_no_second(gateway, account):
    group, key = unique("payout-run"), unique("tr")
    first = gateway.create_transfer(Money("USD", 5_000_000), account, group, key, {"n": "1"})
    again = gateway.create_transfer(Money("USD", 5_000_000), account, group, key, {"n": "1"})
    assert again.id == first.id
    assert [each.id for each in gateway.transfers(group)] == [first.id]


def test_the_same_key_with_other_parameters_is_rejected_as_an_idempotency_error(gateway, account):
    group, key = unique("payout-run"), unique("tr")
    first = gateway.create_transfer(Money("USD", 5_000_000), account, group, key, {})
    with pytest.raises(GatewayError) as raised:
        gateway.create_transfer(Money("USD", 6_000_000), account, group, key, {})
    assert raised.value.kind == REJECTED
    assert "same parameters" in raised.value.message
    assert [each.id for each in gateway.transfers(group)] == [first.id]


def test_different_keys_make_different_transfers(gateway, account):
    group = unique("payout-run")
    first = gateway.create_transfer(Money("USD", 5_000_000), account, group, unique("tr"), {})
    second = gateway.create_transfer(Money("USD", 5_000_000), account, group, unique("tr"), {})
    assert first.id != second.id
    assert {each.id for each in gateway.transfers(group)} == {first.id, second.id}


def test_a_transfer_to_an_unknown_account_is_rejected(gateway):
    group = unique("payout-run")
    with pytest.raises(GatewayError) as raised:
        gateway.create_transfer(Money("USD", 5_000_000), "acct_nobody", group, unique("tr"), {})
    assert raised.value.kind == REJECTED
    assert "No such destination: 'acct_nobody'" in raised.value.message
    assert list(gateway.transfers(group)) == []


def test_a_transfer_to_an_account_without_the_transfers_capability_is_rejected(gateway, server):
    account_id = sdk(server).v1.accounts.create(params={"type": "custom", "country": "US"}).id
    group = unique("payout-run")
    with pytest.raises(GatewayError) as raised:
        gateway.create_transfer(Money("USD", 5_000_000), account_id, group, unique("tr"), {})
    assert raised.value.kind == REJECTED
    assert "capabilities enabled: transfers" in raised.value.message
    assert list(gateway.transfers(group)) == []


@pytest.fixture(scope="module")
def slow_server() -> Iterator[StripeServer]:
    """Stores each transfer, then answers 0.3 s later."""
    started = StripeServer(transfer_delay_seconds=0.3)
    yield started
    started.stop()


def test_concurrent_requests_with_the_same_key_make_one_transfer(slow_server):
    gateway = StripeGateway(slow_server.api_key, api_base=slow_server.url, max_network_retries=0)
    account_id = gateway.create_connected_account("US", None, {}, unique("account"))
    group, key = unique("payout-run"), unique("tr")
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def pay() -> None:
        start.wait()
        try:
            outcomes.append(
                gateway.create_transfer(Money("USD", 5_000_000), account_id, group, key, {})
            )
        except GatewayError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    made = list(gateway.transfers(group))
    assert len(made) == 1
    assert len(outcomes) == 2
    for outcome in outcomes:  # the later one finds the first still running: 409, retry later
        if isinstance(outcome, GatewayError):
            assert outcome.kind == UNAVAILABLE
        else:
            assert outcome.id == made[0].id
    assert any(not isinstance(outcome, GatewayError) for outcome in outcomes)
    again = gateway.create_transfer(Money("USD", 5_000_000), account_id, group, key, {})
    assert again.id == made[0].id


def test_a_transfer_whose_answer_never_arrived_is_found_and_not_repeated(slow_server):
    gateway = StripeGateway(slow_server.api_key, api_base=slow_server.url, max_network_retries=0)
    impatient = StripeGateway(
        slow_server.api_key, api_base=slow_server.url, max_network_retries=0, timeout_seconds=0.1
    )
    account_id = gateway.create_connected_account("US", None, {}, unique("account"))
    group, key = unique("payout-run"), unique("tr")
    with pytest.raises(GatewayError) as raised:
        impatient.create_transfer(Money("USD", 5_000_000), account_id, group, key, {"k": key})
    assert raised.value.kind == UNAVAILABLE

    [made] = gateway.transfers(group)  # in Stripe, though the client never heard of it
    assert made.metadata == {"k": key}
    time.sleep(0.4)  # the first request has answered by now, and its answer is saved
    again = gateway.create_transfer(Money("USD", 5_000_000), account_id, group, key, {"k": key})
    assert again.id == made.id
    assert [each.id for each in gateway.transfers(group)] == [made.id]


# --- webhooks ----------------------------------------------------------------------------------

SECRET = "whsec_test_secret"
EVENT = {
    "id": "evt_1",
    "object": "event",
    "type": "payment_intent.succeeded",
    "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 2500}},
}


def signed(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header exactly as Stripe builds it."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def test_a_webhook_signed_with_the_secret_is_accepted_and_returns_the_event():
    payload = json.dumps(EVENT).encode()
    event = verify_webhook(payload, signed(payload), SECRET)
    assert event == EVENT
    assert isinstance(event, dict) and isinstance(event["data"]["object"], dict)


def test_a_webhook_signed_a_little_while_ago_is_still_accepted():
    payload = json.dumps(EVENT).encode()
    assert verify_webhook(payload, signed(payload, timestamp=int(time.time()) - 200), SECRET)


def test_a_webhook_signed_with_another_secret_is_refused():
    payload = json.dumps(EVENT).encode()
    with pytest.raises(BadWebhook, match="signature"):
        verify_webhook(payload, signed(payload, secret="whsec_someone_else"), SECRET)


def test_a_webhook_whose_body_was_changed_after_signing_is_refused():
    payload = json.dumps(EVENT).encode()
    header = signed(payload)
    tampered = payload.replace(b"2500", b"9500")
    assert tampered != payload
    with pytest.raises(BadWebhook, match="signature"):
        verify_webhook(tampered, header, SECRET)


def test_a_webhook_older_than_the_tolerance_is_refused_as_a_replay():
    payload = json.dumps(EVENT).encode()
    header = signed(payload, timestamp=int(time.time()) - 301)
    with pytest.raises(BadWebhook):
        verify_webhook(payload, header, SECRET)


@pytest.mark.parametrize("header", [None, ""])
def test_a_webhook_without_a_signature_header_is_refused(header):
    with pytest.raises(BadWebhook, match="missing"):
        verify_webhook(json.dumps(EVENT).encode(), header, SECRET)


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=def", "t=1700000000", "v1=deadbeef"])
def test_a_webhook_with_a_malformed_signature_header_is_refused(header):
    with pytest.raises(BadWebhook):
        verify_webhook(json.dumps(EVENT).encode(), header, SECRET)


@pytest.mark.parametrize("payload", [b"not json", b"{", b"\xff\xfe"])
def test_a_correctly_signed_body_that_is_not_json_is_refused(payload):
    with pytest.raises(BadWebhook, match="not a JSON event"):
        verify_webhook(payload, signed(payload), SECRET)


@pytest.mark.parametrize("payload", [b"[1, 2]", b"null", b"42", b'"evt"'])
def test_a_correctly_signed_json_body_that_is_not_an_object_is_refused(payload):
    with pytest.raises(BadWebhook):
        verify_webhook(payload, signed(payload), SECRET)


@pytest.mark.parametrize("data", [[], "x", {"object": []}, {"object": "pi_1"}])
def test_a_correctly_signed_event_whose_data_is_not_an_object_is_refused(data):
    payload = json.dumps({**EVENT, "data": data}).encode()
    with pytest.raises(BadWebhook, match="data.object"):
        verify_webhook(payload, signed(payload), SECRET)


def test_stripe_js_confirms_with_the_publishable_key_only_with_the_client_secret(
    gateway, customer_id, server
):
    """The test server's addition for Stripe.js (tests/stripe_server.py): a browser holding
    the publishable key can confirm an intent only with that intent's client secret."""
    import requests

    intent = gateway.create_payment_intent(customer_id, Money("USD", 12_000_000), {}, unique("k"))
    url = f"{server.url}/v1/payment_intents/{intent.id}/confirm"
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    body = {"key": server.publishable_key, "payment_method_data": {"type": "card", "card": card}}

    wrong = requests.post(url, json=body | {"client_secret": intent.client_secret + "x"}, timeout=5)
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "client_secret"
    assert gateway.retrieve_payment_intent(intent.id).status == "requires_payment_method"

    paid = requests.post(url, json=body | {"client_secret": intent.client_secret}, timeout=5)
    assert paid.status_code == 200 and paid.json()["status"] == "succeeded"
    again = requests.post(url, json=body | {"client_secret": intent.client_secret}, timeout=5)
    assert again.status_code == 400  # a paid intent is not confirmed twice

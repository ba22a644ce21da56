"""The only place that talks to Stripe, through the official SDK.

Amounts cross this boundary as ``Money`` (micros) and are converted to Stripe's minor units
here. Every failure comes out as a ``GatewayError`` whose ``kind`` says what the caller can
tell its user: Stripe could not be reached (or is still busy with the same idempotency key:
ask again later with that key), the card was declined, or Stripe refused the request (no
money moved).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from billing.money import Money, from_minor_units

if TYPE_CHECKING:
    import stripe


def _sdk():
    """The Stripe SDK, imported on first use: it weighs about 15 MB in every process, and an
    auction worker never talks to Stripe."""
    import stripe

    return stripe


UNAVAILABLE, DECLINED, REJECTED = "unavailable", "declined", "rejected"
# Stripe's default tolerance for a webhook's timestamp, against replays.
WEBHOOK_TOLERANCE_SECONDS = 300


class GatewayError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class BadWebhook(ValueError):
    """A webhook whose signature, timestamp or body does not check out."""


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str
    amount: Money
    client_secret: str | None
    metadata: dict[str, str]
    created: datetime


@dataclass(frozen=True)
class Refund:
    id: str
    status: str
    amount: Money
    payment_intent_id: str | None
    created: datetime
    metadata: dict[str, str]


@dataclass(frozen=True)
class Transfer:
    """Money sent to a creator's connected account (Stripe Connect)."""

    id: str
    amount: Money
    destination: str
    transfer_group: str | None
    metadata: dict[str, str]
    created: datetime
    reversed: bool


def _money(amount: int, currency: str) -> Money:
    code = currency.upper()
    return Money(code, from_minor_units(amount, code))


def _created(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _payment_intent(intent: Any) -> PaymentIntent:
    return PaymentIntent(
        id=intent.id,
        status=intent.status,
        amount=_money(intent.amount, intent.currency),
        client_secret=getattr(intent, "client_secret", None),
        metadata=intent.metadata.to_dict() if intent.metadata else {},
        created=_created(intent.created),
    )


def _refund(refund: Any) -> Refund:
    return Refund(
        id=refund.id,
        status=refund.status,
        amount=_money(refund.amount, refund.currency),
        payment_intent_id=getattr(refund, "payment_intent", None),
        created=_created(refund.created),
        metadata=refund.metadata.to_dict() if getattr(refund, "metadata", None) else {},
    )


def _transfer(transfer: Any) -> Transfer:
    return Transfer(
        id=transfer.id,
        amount=_money(transfer.amount, transfer.currency),
        destination=transfer.destination,
        transfer_group=getattr(transfer, "transfer_group", None),
        metadata=transfer.metadata.to_dict() if getattr(transfer, "metadata", None) else {},
        created=_created(transfer.created),
        reversed=bool(getattr(transfer, "reversed", False)),
    )


def _translate(error: stripe.StripeError) -> GatewayError:
    stripe = _sdk()
    if isinstance(error, stripe.APIConnectionError):
        return GatewayError(UNAVAILABLE, "Stripe could not be reached; nothing was charged.")
    if isinstance(error, stripe.CardError):
        return GatewayError(DECLINED, error.user_message or "The card was declined.")
    if error.http_status == 409:
        # Another request with the same idempotency key is still running (or a lock timed
        # out): its outcome is unknown, so the caller must ask again later with that key.
        return GatewayError(
            UNAVAILABLE, "Stripe is still processing this request; try again later."
        )
    if isinstance(error, stripe.RateLimitError) or (error.http_status or 500) >= 500:
        return GatewayError(UNAVAILABLE, "Stripe is not answering properly; try again later.")
    return GatewayError(REJECTED, error.user_message or "Stripe refused the request.")


class StripeGateway:
    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        max_network_retries: int = 2,
        timeout_seconds: float = 20,
    ) -> None:
        options: dict[str, Any] = {"max_network_retries": max_network_retries}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        stripe = _sdk()
        http = stripe.RequestsClient(timeout=timeout_seconds)
        self._client = stripe.StripeClient(api_key, http_client=http, **options)

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except _sdk().StripeError as error:
            raise _translate(error) from error

    def create_customer(self, name: str, metadata: dict[str, str], idempotency_key: str) -> str:
        customer = self._call(
            self._client.v1.customers.create,
            params={"name": name, "metadata": metadata},
            options={"idempotency_key": idempotency_key},
        )
        return customer.id

    def create_payment_intent(
        self, customer_id: str, amount: Money, metadata: dict[str, str], idempotency_key: str
    ) -> PaymentIntent:
        intent = self._call(
            self._client.v1.payment_intents.create,
            params={
                "amount": amount.minor_units(),
                "currency": amount.currency.lower(),
                "customer": customer_id,
                "payment_method_types": ["card"],
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        )
        return _payment_intent(intent)

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntent:
        return _payment_intent(
            self._call(self._client.v1.payment_intents.retrieve, payment_intent_id)
        )

    def refund(
        self,
        payment_intent_id: str,
        amount: Money,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Refund:
        refund = self._call(
            self._client.v1.refunds.create,
            params={
                "payment_intent": payment_intent_id,
                "amount": amount.minor_units(),
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        )
        return _refund(refund)

    def create_connected_account(
        self, country: str, email: str | None, metadata: dict[str, str], idempotency_key: str
    ) -> str:
        """An Express account able to receive transfers; returns its id (``acct_...``)."""
        params: dict[str, Any] = {
            "type": "express",
            "country": country,
            "capabilities": {"transfers": {"requested": True}},
            "metadata": metadata,
        }
        if email is not None:
            params["email"] = email
        account = self._call(
            self._client.v1.accounts.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return account.id

    def create_transfer(
        self,
        amount: Money,
        destination: str,
        transfer_group: str,
        idempotency_key: str,
        metadata: dict[str, str],
        description: str | None = None,
    ) -> Transfer:
        params: dict[str, Any] = {
            "amount": amount.minor_units(),
            "currency": amount.currency.lower(),
            "destination": destination,
            "transfer_group": transfer_group,
            "metadata": metadata,
        }
        if description is not None:
            params["description"] = description
        transfer = self._call(
            self._client.v1.transfers.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _transfer(transfer)

    def transfers(self, transfer_group: str | None = None) -> Iterator[Transfer]:
        params: dict[str, Any] = {"limit": 100}
        if transfer_group is not None:
            params["transfer_group"] = transfer_group
        pages = self._call(self._client.v1.transfers.list, params=params)
        try:
            for transfer in pages.auto_paging_iter():
                yield _transfer(transfer)
        except _sdk().StripeError as error:
            raise _translate(error) from error

    def payment_intents(self) -> Iterator[PaymentIntent]:
        pages = self._call(self._client.v1.payment_intents.list, params={"limit": 100})
        try:
            for intent in pages.auto_paging_iter():
                yield _payment_intent(intent)
        except _sdk().StripeError as error:
            raise _translate(error) from error

    def refunds(self) -> Iterator[Refund]:
        pages = self._call(self._client.v1.refunds.list, params={"limit": 100})
        try:
            for refund in pages.auto_paging_iter():
                yield _refund(refund)
        except _sdk().StripeError as error:
            raise _translate(error) from error


def verify_webhook(payload: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """The event, if ``Stripe-Signature`` is Stripe's HMAC-SHA256 of this exact body with
    ``secret`` and its timestamp is within the tolerance; else ``BadWebhook``."""
    if not signature:
        raise BadWebhook("the Stripe-Signature header is missing")
    stripe = _sdk()
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as error:
        raise BadWebhook(f"the signature does not match: {error.user_message or error}") from None
    except (ValueError, AttributeError, TypeError):  # not JSON, or JSON but not an object
        raise BadWebhook("the body is not a JSON event") from None
    body = event.to_dict()
    if not isinstance(body.get("id"), str) or not isinstance(body.get("type"), str):
        raise BadWebhook("the event has no id or type")
    data = body.get("data", {})
    if not isinstance(data, dict) or not isinstance(data.get("object", {}), dict):
        raise BadWebhook("the event's data.object is not an object")
    return body

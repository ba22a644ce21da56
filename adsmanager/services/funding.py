"""An advertiser's prepaid balance: top-ups through Stripe, Stripe's webhooks, refunds and
manual credits, and the balance itself.

Stripe is never called inside a database transaction that other requests wait on, except
for refunds, where the top-up row stays locked during the call so that two refunds cannot
both pass the "not more than was paid" check.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adsmanager.config import Settings
from adsmanager.db.base import is_well_formed_id, new_id, utcnow
from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent
from adsmanager.db.funding import Refund, StripeEvent, TopUp
from adsmanager.db.ledger import JournalEntry as EntryRow
from adsmanager.db.ledger import Posting
from adsmanager.db.models import Advertiser
from adsmanager.db.upsert import insert_for
from adsmanager.services import advertisers, ledger
from adsmanager.services.access import Actor, scoped
from adsmanager.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PaymentDeclined,
    Unavailable,
    invalid,
)
from adsmanager.services.pagination import Page, paginate
from adsmanager.services.spend_posting import unposted_charges
from adsmanager.vocabulary import AdvertiserStatus, RefundStatus, TopUpStatus
from billing import ledger as rules
from billing.money import InexactAmount, Money, from_minor_units, stripe_step_micros
from billing.stripe_gateway import DECLINED, UNAVAILABLE, GatewayError, StripeGateway


def make_gateway(settings: Settings) -> StripeGateway | None:
    if not settings.stripe_api_key:
        return None
    return StripeGateway(settings.stripe_api_key, settings.stripe_api_base)


def require_gateway(gateway: StripeGateway | None) -> StripeGateway:
    if gateway is None:
        raise Unavailable(
            "stripe_not_configured", "Payments are not set up here: STRIPE_API_KEY is not set."
        )
    return gateway


def raise_gateway_error(error: GatewayError) -> None:
    if error.kind == UNAVAILABLE:
        raise Unavailable("payment_provider_unavailable", error.message) from error
    if error.kind == DECLINED:
        raise PaymentDeclined(error.message) from error
    raise Conflict("payment_provider_refused", error.message) from error


# --- balances -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    advertiser_id: str
    currency: str
    # What the ledger holds: top-ups and credits less refunds and posted spend.
    ledger_balance_micros: int
    # Charged impressions and clicks the spend job has not posted yet.
    unposted_spend_micros: int
    # Refunds asked of Stripe and not answered yet: not in the ledger, but promised back.
    pending_refunds_micros: int

    @property
    def available_micros(self) -> int:
        return self.ledger_balance_micros - self.unposted_spend_micros - self.pending_refunds_micros


def pending_refunds(advertiser_id=None):
    """Each advertiser's refunds still PENDING, as (advertiser_id, micros) rows; with
    ``advertiser_id``, that advertiser's only."""
    statement = select(Refund.advertiser_id, func.sum(Refund.amount_micros).label("micros"))
    if advertiser_id is not None:
        statement = statement.where(Refund.advertiser_id == advertiser_id)
    return statement.where(Refund.status == RefundStatus.PENDING).group_by(Refund.advertiser_id)


def balance_of(session: Session, advertiser: Advertiser) -> Balance:
    unposted = session.scalar(
        select(func.coalesce(func.sum(AdEvent.charge_micros), 0)).where(
            AdEvent.advertiser_id == advertiser.id, unposted_charges()
        )
    )
    pending = session.execute(pending_refunds(advertiser.id)).first()
    return Balance(
        advertiser.id,
        advertiser.currency,
        ledger.balance(session, rules.advertiser_balance(advertiser.id, advertiser.currency)),
        int(unposted),
        int(pending.micros) if pending else 0,
    )


def balance(db: Database, actor: Actor, advertiser_id: str) -> Balance:
    with db.read() as session:
        return balance_of(session, advertiser_lookup(session, actor, advertiser_id))


def advertiser_lookup(session: Session, actor: Actor, advertiser_id: str | None) -> Advertiser:
    """The advertiser named, or the actor's own when none is named."""
    chosen = advertiser_id or actor.advertiser_id
    if chosen is None:
        raise invalid("advertiser_id", "Name the advertiser.")
    return advertisers.load(session, actor, chosen)


# --- amounts --------------------------------------------------------------------------------


def checked_amount(micros: int, currency: str, field: str = "amount_micros") -> Money:
    try:
        amount = Money(currency, micros)
        amount.minor_units()
    except InexactAmount:
        step = stripe_step_micros(currency)
        raise invalid(
            field,
            f"Must be a whole number of {currency} minor units "
            f"(a multiple of {Money(currency, step)}).",
        ) from None
    return amount


# --- top-ups --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopUpView:
    top_up: TopUp
    client_secret: str | None = None
    publishable_key: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.top_up, name)


def keyed_id(prefix: str, advertiser_id: str, key: str) -> str:
    digest = hashlib.sha256(f"{advertiser_id}:{key}".encode()).digest()[:16]
    return f"{prefix}_{base64.b32encode(digest).decode().rstrip('=').lower()}"


def _existing_top_up(session: Session, advertiser_id: str, key: str) -> TopUp | None:
    return session.scalar(
        select(TopUp).where(TopUp.advertiser_id == advertiser_id, TopUp.idempotency_key == key)
    )


def _same_top_up(
    existing: TopUp, amount: Money, gateway: StripeGateway, publishable_key: str | None
) -> TopUpView:
    if existing.amount_micros != amount.micros:
        raise Conflict(
            "idempotency_key_reused",
            "This Idempotency-Key was used for a top-up of another amount.",
        )
    secret = None
    if existing.payment_intent_id and existing.status is TopUpStatus.PENDING:
        try:
            secret = gateway.retrieve_payment_intent(existing.payment_intent_id).client_secret
        except GatewayError as error:
            raise_gateway_error(error)
    return TopUpView(existing, secret, publishable_key)


def _customer_id(db: Database, gateway: StripeGateway, advertiser: Advertiser) -> str:
    if advertiser.stripe_customer_id:
        return advertiser.stripe_customer_id
    try:
        created = gateway.create_customer(
            advertiser.name,
            {"advertiser_id": advertiser.id},
            idempotency_key=f"customer:{advertiser.id}",
        )
    except GatewayError as error:
        raise_gateway_error(error)
    with db.transaction() as session:
        session.execute(
            update(Advertiser)
            .where(Advertiser.id == advertiser.id, Advertiser.stripe_customer_id.is_(None))
            .values(stripe_customer_id=created)
        )
        # A concurrent first top-up may have stored its customer first: use that one.
        return session.scalar(
            select(Advertiser.stripe_customer_id).where(Advertiser.id == advertiser.id)
        )


def create_top_up(
    db: Database,
    gateway: StripeGateway | None,
    settings: Settings,
    actor: Actor,
    *,
    amount_micros: int,
    advertiser_id: str | None = None,
    idempotency_key: str | None = None,
) -> TopUpView:
    """A PaymentIntent for the amount; the client confirms it with Stripe.js and the balance
    is credited when Stripe's webhook says the payment succeeded."""
    with db.read() as session:
        advertiser = advertiser_lookup(session, actor, advertiser_id)
        if advertiser.status is not AdvertiserStatus.ACTIVE:
            raise Conflict("advertiser_inactive", "Only active advertisers can top up.")
        amount = checked_amount(amount_micros, advertiser.currency)
        if not settings.min_top_up_micros <= amount.micros <= settings.max_top_up_micros:
            raise InvalidInput(
                {
                    "amount_micros": [
                        f"Must be between {Money(amount.currency, settings.min_top_up_micros)}"
                        f" and {Money(amount.currency, settings.max_top_up_micros)}."
                    ]
                }
            )
        stripe = require_gateway(gateway)
        existing = idempotency_key and _existing_top_up(session, advertiser.id, idempotency_key)
    if existing:
        return _same_top_up(existing, amount, stripe, settings.stripe_publishable_key)
    # With a client key the id is derived from it, so a retry sends Stripe exactly the same
    # request under the same Stripe idempotency key (Stripe refuses a key reused otherwise).
    top_up_id = (
        keyed_id("top", advertiser.id, idempotency_key) if idempotency_key else new_id("top")
    )
    key = idempotency_key or top_up_id
    customer = _customer_id(db, stripe, advertiser)
    try:
        intent = stripe.create_payment_intent(
            customer,
            amount,
            metadata={"advertiser_id": advertiser.id, "top_up_id": top_up_id},
            idempotency_key=f"top-up:{advertiser.id}:{key}",
        )
    except GatewayError as error:
        raise_gateway_error(error)
    # A retry that Stripe answered from its idempotency cache gets the first attempt's
    # intent: keep the id that intent carries, so Stripe and the database agree.
    top_up_id = intent.metadata.get("top_up_id", top_up_id)
    try:
        with db.transaction() as session:
            row = TopUp(
                id=top_up_id,
                advertiser_id=advertiser.id,
                amount_micros=amount.micros,
                currency=amount.currency,
                status=TopUpStatus.PENDING,
                idempotency_key=key,
                payment_intent_id=intent.id,
                created_by=actor.id,
            )
            session.add(row)
    except IntegrityError:
        # The same key arrived twice at once; Stripe's idempotency gave both one intent.
        with db.read() as session:
            existing = _existing_top_up(session, advertiser.id, key)
        if existing is None:
            raise
        return _same_top_up(existing, amount, stripe, settings.stripe_publishable_key)
    return TopUpView(row, intent.client_secret, settings.stripe_publishable_key)


def get_top_up(db: Database, actor: Actor, top_up_id: str) -> TopUp:
    with db.read() as session:
        # An id that cannot name a row (a NUL, say: PostgreSQL refuses it) is simply not found.
        top_up = session.get(TopUp, top_up_id) if is_well_formed_id(top_up_id) else None
        if top_up is None or not actor.sees_advertiser(top_up.advertiser_id):
            raise NotFound("Top-up")
        return top_up


def list_top_ups(
    db: Database,
    actor: Actor,
    *,
    advertiser_id: str | None,
    status: TopUpStatus | None,
    page_size: int,
    page_token: str | None,
) -> Page:
    statement = scoped(select(TopUp), TopUp.advertiser_id, actor)
    if advertiser_id:
        statement = statement.where(TopUp.advertiser_id == advertiser_id)
    if status:
        statement = statement.where(TopUp.status == status)
    with db.read() as session:
        return paginate(session, statement, TopUp.id, page_size, page_token)


# --- Stripe's webhooks ----------------------------------------------------------------------


def _credit_payment(session: Session, intent: dict[str, Any], now: datetime) -> str:
    metadata = intent.get("metadata") or {}
    advertiser_id, top_up_id = metadata.get("advertiser_id"), metadata.get("top_up_id")
    if not advertiser_id or not top_up_id:
        return "ignored: not a top-up"
    advertiser = session.get(Advertiser, advertiser_id)
    if advertiser is None:
        return "refused: unknown advertiser"
    currency = str(intent["currency"]).upper()
    if currency != advertiser.currency:
        return f"refused: paid in {currency}, the account is in {advertiser.currency}"
    received = intent.get("amount_received") or intent["amount"]
    amount = Money(currency, from_minor_units(int(received), currency))
    top_up = session.scalar(
        select(TopUp).where(TopUp.payment_intent_id == intent["id"]).with_for_update()
    )
    if top_up is None:  # the intent was made but its row was never written: keep it now
        top_up = TopUp(
            id=top_up_id,
            advertiser_id=advertiser.id,
            amount_micros=amount.micros,
            currency=currency,
            idempotency_key=top_up_id,
            payment_intent_id=intent["id"],
        )
        session.add(top_up)
    top_up.status = TopUpStatus.SUCCEEDED
    top_up.failure_reason = None
    entry = rules.top_up(advertiser.id, amount, intent["id"], top_up.id)
    posted = ledger.post(session, [entry], now, "stripe", now)
    return f"credited {amount}" if posted else "already credited"


def _mark_failed(session: Session, intent: dict[str, Any], status: TopUpStatus) -> str:
    top_up = session.scalar(
        select(TopUp).where(TopUp.payment_intent_id == intent["id"]).with_for_update()
    )
    if top_up is None:
        return "ignored: not a top-up"
    if top_up.status is TopUpStatus.SUCCEEDED:
        return "ignored: already succeeded"
    error = intent.get("last_payment_error") or {}
    top_up.status = status
    top_up.failure_reason = error.get("message") or intent.get("cancellation_reason")
    return f"marked {status.value}"


def handle_stripe_event(db: Database, event: dict[str, Any], now: datetime | None = None) -> str:
    """Apply a verified Stripe event once; what was done. A redelivered event does nothing."""
    now = now or utcnow()
    intent = event.get("data", {}).get("object", {})
    with db.transaction() as session:
        first_time = session.execute(
            insert_for(session, StripeEvent)
            .values(
                id=event["id"],
                type=event["type"],
                object_id=intent.get("id"),
                outcome="",
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(StripeEvent.id)
        ).first()
        if first_time is None:
            return "duplicate: already handled"
        match event["type"]:
            case "payment_intent.succeeded":
                outcome = _credit_payment(session, intent, now)
            case "payment_intent.payment_failed":
                outcome = _mark_failed(session, intent, TopUpStatus.FAILED)
            case "payment_intent.canceled":
                outcome = _mark_failed(session, intent, TopUpStatus.CANCELED)
            case _:
                outcome = "ignored: not an event we act on"
        session.execute(
            update(StripeEvent).where(StripeEvent.id == event["id"]).values(outcome=outcome)
        )
        return outcome


# --- credits --------------------------------------------------------------------


@dataclass(frozen=True)
class Credited:
    credit_id: str
    advertiser_id: str
    amount_micros: int
    currency: str
    reason: str
    created_by: str
    entry_id: int
    created: bool


def credit(
    db: Database,
    actor: Actor,
    advertiser_id: str,
    *,
    amount_micros: int,
    reason: str,
    idempotency_key: str | None = None,
) -> Credited:
    """Money the platform gives an advertiser, with the reason and who gave it."""
    now = utcnow()
    with db.transaction() as session:
        advertiser = advertisers.load(session, actor, advertiser_id)
        amount = Money(advertiser.currency, amount_micros)
        credit_id = f"{advertiser.id}:{idempotency_key}" if idempotency_key else new_id("crd")
        entry = rules.manual_credit(advertiser.id, amount, credit_id, reason)
        posted = ledger.post(session, [entry], now, actor.id, now)
        row = session.scalar(select(EntryRow).where(EntryRow.idempotency_key == entry.key))
        if not posted and (row.advertiser_id != advertiser.id or row.memo != reason):
            raise Conflict(
                "idempotency_key_reused", "This Idempotency-Key was used for another credit."
            )
        stored = -sum(
            session.scalars(
                select(Posting.amount_micros).where(
                    Posting.entry_id == row.id, Posting.amount_micros < 0
                )
            )
        )
        if stored != amount.micros:
            raise Conflict(
                "idempotency_key_reused", "This Idempotency-Key was used for another amount."
            )
        return Credited(
            credit_id,
            advertiser.id,
            amount.micros,
            amount.currency,
            reason,
            row.created_by or actor.id,
            row.id,
            bool(posted),
        )

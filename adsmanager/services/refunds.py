"""Refunds of top-ups through Stripe, in three steps so that no money moves twice and no lock
is held while Stripe answers:

1. reserve: under a lock on the advertiser, check the amount against what is left of the
   top-up and of the unspent balance (counting refunds still pending), and write the refund
   PENDING;
2. ask Stripe, with an idempotency key derived from the refund, so asking again (a retry
   after Stripe did not answer) can never make a second refund;
3. record Stripe's answer: SUCCEEDED with its ledger entry, or FAILED.

A request with the same Idempotency-Key returns the same refund, finishing it if it was left
pending.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adsmanager.db.base import new_id, utcnow
from adsmanager.db.database import Database
from adsmanager.db.funding import Refund, TopUp
from adsmanager.db.models import Advertiser
from adsmanager.services import advertisers, ledger
from adsmanager.services.access import Actor
from adsmanager.services.errors import Conflict, InvalidInput, NotFound, Unavailable
from adsmanager.services.funding import (
    balance_of,
    checked_amount,
    keyed_id,
    raise_gateway_error,
    require_gateway,
)
from adsmanager.vocabulary import RefundStatus, TopUpStatus
from billing import ledger as rules
from billing.money import Money
from billing.stripe_gateway import UNAVAILABLE, GatewayError, StripeGateway

RESERVED = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


def _reserved_micros(session: Session, **where) -> int:
    conditions = [getattr(Refund, name) == value for name, value in where.items()]
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Refund.amount_micros), 0)).where(
                *conditions, Refund.status.in_(RESERVED)
            )
        )
    )


def _reserve(
    db: Database,
    actor: Actor,
    advertiser_id: str,
    top_up_id: str,
    amount_micros: int,
    reason: str,
    idempotency_key: str | None,
) -> Refund:
    with db.transaction() as session:
        advertiser = advertisers.load(session, actor, advertiser_id)
        # One refund of this advertiser at a time passes the checks below.
        session.execute(
            select(Advertiser.id).where(Advertiser.id == advertiser.id).with_for_update()
        )
        if idempotency_key:
            existing = session.scalar(
                select(Refund).where(
                    Refund.advertiser_id == advertiser.id,
                    Refund.idempotency_key == idempotency_key,
                )
            )
            if existing is not None:
                if (existing.top_up_id, existing.amount_micros) != (top_up_id, amount_micros):
                    raise Conflict(
                        "idempotency_key_reused",
                        "This Idempotency-Key was used for another refund.",
                    )
                return existing
        top_up = session.get(TopUp, top_up_id)
        if top_up is None or top_up.advertiser_id != advertiser.id:
            raise NotFound("Top-up")
        if top_up.status is not TopUpStatus.SUCCEEDED:
            raise Conflict("not_refundable", "Only a succeeded top-up can be refunded.")
        amount = checked_amount(amount_micros, top_up.currency)
        refundable = top_up.amount_micros - _reserved_micros(session, top_up_id=top_up.id)
        # Less pending refunds: not in the ledger yet, but their money is promised.
        available = balance_of(session, advertiser).available_micros
        if amount.micros > min(refundable, available):
            raise InvalidInput(
                {
                    "amount_micros": [
                        f"At most {max(0, min(refundable, available))} micros: "
                        f"{refundable} of this top-up are not refunded yet and "
                        f"{available} of the balance are not spent."
                    ]
                }
            )
        refund_id = (
            keyed_id("rfd", advertiser.id, idempotency_key) if idempotency_key else new_id("rfd")
        )
        row = Refund(
            id=refund_id,
            advertiser_id=advertiser.id,
            top_up_id=top_up.id,
            amount_micros=amount.micros,
            currency=amount.currency,
            reason=reason,
            status=RefundStatus.PENDING,
            idempotency_key=idempotency_key or refund_id,
            created_by=actor.id,
        )
        session.add(row)
        return row


def _finish(db: Database, refund_id: str, made, actor: Actor) -> Refund:
    now = utcnow()
    with db.transaction() as session:
        row = session.get(Refund, refund_id, with_for_update=True)
        if row.status is not RefundStatus.PENDING:
            return row
        # Stripe's refund states: pending, requires_action and succeeded are on their way
        # (the money is leaving); failed and canceled never will.
        if made.status in ("failed", "canceled"):
            row.status = RefundStatus.FAILED
            row.failure_reason = f"Stripe could not refund it ({made.status})."
            row.stripe_refund_id = made.id
            return row
        amount = Money(row.currency, row.amount_micros)
        entry = rules.refund(row.advertiser_id, amount, made.id, row.top_up_id, row.reason)
        posted = ledger.post(session, [entry], now, actor.id, now)
        row.status = RefundStatus.SUCCEEDED
        row.stripe_refund_id = made.id
        row.entry_id = posted[0].entry_id if posted else None
        return row


def refund(
    db: Database,
    gateway: StripeGateway | None,
    actor: Actor,
    advertiser_id: str,
    *,
    top_up_id: str,
    amount_micros: int,
    reason: str,
    idempotency_key: str | None = None,
) -> Refund:
    """Pay part or all of a top-up back and take it off the balance. Not more than was paid
    in that top-up, nor more than the advertiser has left unspent."""
    stripe = require_gateway(gateway)
    row = _reserve(db, actor, advertiser_id, top_up_id, amount_micros, reason, idempotency_key)
    if row.status is not RefundStatus.PENDING:
        return row
    with db.read() as session:
        payment_intent_id = session.get(TopUp, row.top_up_id).payment_intent_id
    try:
        made = stripe.refund(
            payment_intent_id,
            Money(row.currency, row.amount_micros),
            metadata={"advertiser_id": row.advertiser_id, "refund_id": row.id},
            idempotency_key=f"refund:{row.id}",
        )
    except GatewayError as error:
        if error.kind == UNAVAILABLE:
            raise Unavailable(
                "payment_provider_unavailable",
                f"Stripe did not answer, so refund {row.id} may or may not have been made; "
                "it stays PENDING. Send the request again with the same Idempotency-Key to "
                "finish it.",
            ) from error
        with db.transaction() as session:
            failed = session.get(Refund, row.id, with_for_update=True)
            failed.status, failed.failure_reason = RefundStatus.FAILED, error.message
        raise_gateway_error(error)
    return _finish(db, row.id, made, actor)

"""Comparing Stripe's records with the ledger, both ways, and keeping what differed.

Stripe's succeeded payments and refunds created in the window must each have their ledger
entry (by idempotency key) with the same amount; the ledger's top-up and refund entries of
the window must each match a Stripe object. Matching is by id across all time, so an
object created just before the window and credited just inside it is not a difference.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.db.funding import Reconciliation
from adsmanager.db.ledger import JournalEntry, LedgerAccount, Posting
from adsmanager.services.funding import raise_gateway_error
from billing.ledger import AccountKind, EntryKind
from billing.stripe_gateway import GatewayError, StripeGateway

MISSING_IN_LEDGER = "missing_in_ledger"
MISSING_IN_STRIPE = "missing_in_stripe"
AMOUNT_MISMATCH = "amount_mismatch"


@dataclass(frozen=True)
class LedgerSide:
    key: str
    kind: str
    micros: int
    currency: str
    effective_at: datetime


def _ledger_entries(session) -> dict[str, LedgerSide]:
    """Top-up and refund entries with what they moved on the Stripe clearing account."""
    rows = session.execute(
        select(
            JournalEntry.idempotency_key,
            JournalEntry.kind,
            Posting.amount_micros,
            Posting.currency,
            JournalEntry.effective_at,
        )
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(
            JournalEntry.kind.in_([EntryKind.TOP_UP.value, EntryKind.REFUND.value]),
            LedgerAccount.kind == AccountKind.STRIPE_CLEARING.value,
        )
    ).all()
    sums: dict[str, list] = defaultdict(lambda: [None, 0, None, None])
    for key, kind, micros, currency, at in rows:
        side = sums[key]
        side[0], side[2], side[3] = kind, currency, at
        side[1] += abs(micros)
    return {key: LedgerSide(key, *values) for key, values in sums.items()}


def reconcile(
    db: Database, gateway: StripeGateway, since: datetime, until: datetime
) -> Reconciliation:
    started = utcnow()
    try:
        top_ups = [
            intent for intent in gateway.payment_intents() if intent.metadata.get("advertiser_id")
        ]
        stripe_side = {
            f"top-up:{intent.id}": (intent.id, intent.amount, intent.created)
            for intent in top_ups
            if intent.status == "succeeded"
        }
        # Every refund of a top-up, ours or not: one made in Stripe's dashboard has none of
        # our metadata, and the ledger never heard of it.
        top_up_ids = {intent.id for intent in top_ups}
        stripe_side |= {
            f"refund:{refund.id}": (refund.id, refund.amount, refund.created)
            for refund in gateway.refunds()
            if refund.status in ("succeeded", "pending")
            and (refund.metadata.get("advertiser_id") or refund.payment_intent_id in top_up_ids)
        }
    except GatewayError as error:
        raise_gateway_error(error)
    with db.transaction() as session:
        ledger_side = _ledger_entries(session)
        differences = []
        for key, (object_id, amount, created) in sorted(stripe_side.items()):
            if not since <= created < until:
                continue
            entry = ledger_side.get(key)
            if entry is None:
                differences.append(
                    {
                        "type": MISSING_IN_LEDGER,
                        "stripe_id": object_id,
                        "key": key,
                        "stripe_micros": amount.micros,
                        "currency": amount.currency,
                    }
                )
            elif entry.micros != amount.micros or entry.currency != amount.currency:
                differences.append(
                    {
                        "type": AMOUNT_MISMATCH,
                        "stripe_id": object_id,
                        "key": key,
                        "stripe_micros": amount.micros,
                        "ledger_micros": entry.micros,
                        "currency": amount.currency,
                    }
                )
        in_window = [e for e in ledger_side.values() if since <= e.effective_at < until]
        for entry in sorted(in_window, key=lambda e: e.key):
            if entry.key not in stripe_side:
                differences.append(
                    {
                        "type": MISSING_IN_STRIPE,
                        "key": entry.key,
                        "ledger_micros": entry.micros,
                        "currency": entry.currency,
                    }
                )
        run = Reconciliation(
            started_at=started,
            since=since,
            until=until,
            stripe_objects=sum(1 for _, _, at in stripe_side.values() if since <= at < until),
            ledger_entries=len(in_window),
            differences=differences,
        )
        session.add(run)
        session.flush()
        return run


def recent(db: Database, limit: int) -> list[Reconciliation]:
    with db.read() as session:
        return list(
            session.scalars(select(Reconciliation).order_by(Reconciliation.id.desc()).limit(limit))
        )

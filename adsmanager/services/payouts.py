"""Paying an approved payout run: one Stripe Connect transfer per payable creator.

Paying is safe to repeat and to interrupt:

- each line's Idempotency-Key (``payout:{run}:{creator}``) is written before Stripe is
  asked, so a retry after a crash asks with the same key and Stripe answers with the
  transfer it already made;
- a line asked about before is first looked up among the run's transfers (its transfer
  group), which also covers a retry after Stripe has forgotten the key (24 hours);
- only when Stripe refused a transfer outright (no such account, transfers not enabled) is
  the next attempt sent with a new key, ``payout:{run}:{creator}#2`` and so on: a refused
  request moved no money;
- a line is marked PAID, and its ledger entry (creator payable → Stripe) posted under the key
  ``payout:{run}:{creator}``, in one transaction per line; a failure of one creator is kept
  as the line's reason and the others go on. No lock is held while Stripe answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from adsmanager.db.creator_fund import Creator, PayoutLine, PayoutRun
from adsmanager.db.database import Database
from adsmanager.services import ledger
from adsmanager.services.access import Actor
from adsmanager.services.errors import Conflict, Unavailable
from adsmanager.services.payout_runs import load, transfer_group_of
from adsmanager.vocabulary import PayoutLineStatus, PayoutRunStatus
from billing import ledger as rules_of_posting
from billing.money import Money
from billing.stripe_gateway import REJECTED, GatewayError, StripeGateway, Transfer

UNPAID = (PayoutLineStatus.PAYABLE, PayoutLineStatus.FAILED)
NO_ACCOUNT = "The creator has no connected Stripe account."


@dataclass(frozen=True)
class ToPay:
    line_id: int
    creator_id: str
    micros: int
    account: str | None
    key: str
    asked_before: bool


@dataclass(frozen=True)
class PayResult:
    run: PayoutRun
    paid: int
    failed: int


def base_key(run_id: str, creator_id: str) -> str:
    return f"payout:{run_id}:{creator_id}"


def _next_key(run_id: str, creator_id: str, key: str) -> str:
    """The key of the next attempt after Stripe refused one: ``#`` cannot occur in a
    platform id, so no attempt's key is ever another creator's."""
    _, _, attempt = key.partition("#")
    return f"{base_key(run_id, creator_id)}#{int(attempt or 1) + 1}"


def _claim(db: Database, run_id: str) -> tuple[PayoutRun, list[ToPay]]:
    """The lines still to pay, each with the key to ask Stripe with (written first)."""
    with db.transaction() as session:
        run = load(session, run_id, lock=True)
        if run.status is PayoutRunStatus.DRAFT:
            raise Conflict("run_not_approved", f"Run {run.id} must be approved before paying.")
        rows = session.execute(
            select(PayoutLine, Creator.stripe_account_id)
            .join(Creator, Creator.id == PayoutLine.creator_id)
            .where(PayoutLine.run_id == run.id, PayoutLine.status.in_(UNPAID))
            .order_by(PayoutLine.creator_id)
        ).all()
        todo = []
        for line, account in rows:
            asked_before = line.transfer_key is not None
            if not asked_before:
                line.transfer_key = base_key(run.id, line.creator_id)
            line.stripe_account_id = account
            todo.append(
                ToPay(
                    line.id,
                    line.creator_id,
                    line.payable_micros,
                    account,
                    line.transfer_key,
                    asked_before,
                )
            )
        return run, todo


def _record_paid(db: Database, run: PayoutRun, item: ToPay, transfer: Transfer, now) -> None:
    with db.transaction() as session:
        session.execute(
            update(PayoutLine)
            .where(PayoutLine.id == item.line_id, PayoutLine.status != PayoutLineStatus.PAID)
            .values(
                status=PayoutLineStatus.PAID,
                stripe_transfer_id=transfer.id,
                failure_reason=None,
                paid_at=now,
            )
        )
        entry = rules_of_posting.payout(
            run.id, item.creator_id, Money(run.currency, item.micros), transfer.id
        )
        ledger.post(session, [entry], now, None, now)


def _record_failed(db: Database, item: ToPay, reason: str, next_key: str) -> None:
    with db.transaction() as session:
        session.execute(
            update(PayoutLine)
            .where(PayoutLine.id == item.line_id, PayoutLine.status != PayoutLineStatus.PAID)
            .values(status=PayoutLineStatus.FAILED, failure_reason=reason, transfer_key=next_key)
        )


def _finish(db: Database, run_id: str, now: datetime) -> PayoutRun:
    with db.transaction() as session:
        run = load(session, run_id, lock=True)
        unpaid = session.scalar(
            select(func.count())
            .select_from(PayoutLine)
            .where(PayoutLine.run_id == run.id, PayoutLine.status.in_(UNPAID))
        )
        if unpaid:
            run.status = PayoutRunStatus.PARTIALLY_PAID
        else:
            run.status = PayoutRunStatus.PAID
            run.paid_at = run.paid_at or now
        return run


def pay(
    db: Database,
    gateway: StripeGateway,
    run_id: str,
    actor: Actor | None,
    clock: Callable[[], datetime],
    progress: Callable[[int, int], None] | None = None,
) -> PayResult:
    """Transfer what each payable creator of an approved run is owed; pay again to retry
    the lines that failed or were interrupted."""
    run, todo = _claim(db, run_id)
    group = transfer_group_of(run)
    made_before = {}
    if any(item.asked_before for item in todo):
        # A run pays each creator once: a transfer of the group to a creator, whatever key
        # it was asked with, is that creator's payment.
        try:
            made_before = {
                t.metadata.get("creator_id"): t for t in gateway.transfers(group) if not t.reversed
            }
        except GatewayError as error:
            raise Unavailable("payment_provider_unavailable", error.message) from None
    paid = failed = 0
    for done, item in enumerate(todo, start=1):
        transfer = made_before.get(item.creator_id) if item.asked_before else None
        if transfer is None and item.account is None:
            _record_failed(db, item, NO_ACCOUNT, item.key)
            failed += 1
        elif transfer is None:
            try:
                transfer = gateway.create_transfer(
                    Money(run.currency, item.micros),
                    destination=item.account,
                    transfer_group=group,
                    idempotency_key=item.key,
                    metadata={
                        "payout_run": run.id,
                        "creator_id": item.creator_id,
                        "idempotency_key": item.key,
                    },
                    description=f"Creator fund {run.period_start.isoformat()}",
                )
            except GatewayError as error:
                # Refused: no money moved, so the next attempt may use a new key. Not
                # answered: the next attempt must ask with the same key.
                refused = error.kind == REJECTED
                next_key = _next_key(run.id, item.creator_id, item.key) if refused else item.key
                _record_failed(db, item, f"{error.kind}: {error.message}", next_key)
                failed += 1
        if transfer is not None:
            _record_paid(db, run, item, transfer, clock())
            paid += 1
        if progress:
            progress(done, len(todo))
    return PayResult(_finish(db, run.id, clock()), paid, failed)

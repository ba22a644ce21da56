"""Double-entry posting rules: which accounts each money movement touches, and by how much.

Every posting is a signed amount in micros; every journal entry's postings sum to zero in
each currency, so money is only ever moved, never made or lost. An account's balance is the
sum of its postings. Signs are chosen so the balances people read are positive: an
advertiser's balance is what they can still spend, platform revenue is what was earned,
and Stripe clearing goes negative by what came in through Stripe and has not gone back out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from billing.money import Money


class AccountKind(StrEnum):
    ADVERTISER_BALANCE = "advertiser_balance"  # owner: advertiser id
    PLATFORM_REVENUE = "platform_revenue"
    STRIPE_CLEARING = "stripe_clearing"
    # Manual credits are a cost to the platform (goodwill, make-goods, demo money).
    PLATFORM_CREDITS = "platform_credits"
    CREATOR_FUND_POOL = "creator_fund_pool"
    # A fixed creator fund is a cost to the platform (a revenue-share fund comes out of
    # platform revenue instead).
    CREATOR_FUND_EXPENSE = "creator_fund_expense"
    CREATOR_PAYABLE = "creator_payable"  # owner: creator id


class EntryKind(StrEnum):
    TOP_UP = "TOP_UP"
    SPEND = "SPEND"
    REFUND = "REFUND"
    MANUAL_CREDIT = "MANUAL_CREDIT"
    FUND_POOL = "FUND_POOL"  # a payout run's pool, from its source
    FUND_SHARES = "FUND_SHARES"  # the pool, split among the creators of a run
    FUND_CLAWBACK = "FUND_CLAWBACK"  # taken back from creators, returned to the source
    PAYOUT = "PAYOUT"  # a creator's balance, transferred through Stripe Connect


@dataclass(frozen=True, slots=True, order=True)
class Account:
    kind: AccountKind
    currency: str
    owner: str = ""  # "" for the platform's own accounts


@dataclass(frozen=True, slots=True)
class Posting:
    account: Account
    micros: int


class UnbalancedEntry(ValueError):
    """An entry that would make or lose money, or that no one could post only once."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A movement of money, named by an idempotency key that no other entry may share."""

    key: str
    kind: EntryKind
    postings: tuple[Posting, ...]
    advertiser_id: str | None = None
    campaign_id: str | None = None
    # What the entry is about outside the ledger: a top-up id, a Stripe refund id, ...
    reference: str | None = None
    memo: str | None = None

    def __post_init__(self) -> None:
        if not self.key:
            raise UnbalancedEntry("an entry needs an idempotency key")
        if len(self.postings) < 2:
            raise UnbalancedEntry("an entry moves money between at least two accounts")
        totals: dict[str, int] = defaultdict(int)
        for posting in self.postings:
            if type(posting.micros) is not int or posting.micros == 0:
                raise UnbalancedEntry(f"a posting must be a non-zero int: {posting}")
            totals[posting.account.currency] += posting.micros
        unbalanced = {currency: total for currency, total in totals.items() if total}
        if unbalanced:
            raise UnbalancedEntry(f"postings do not sum to zero: {unbalanced}")

    def amount_for(self, account: Account) -> int:
        return sum(p.micros for p in self.postings if p.account == account)


def advertiser_balance(advertiser_id: str, currency: str) -> Account:
    return Account(AccountKind.ADVERTISER_BALANCE, currency, advertiser_id)


def platform(kind: AccountKind, currency: str) -> Account:
    return Account(kind, currency)


def _positive(amount: Money) -> None:
    if amount.micros <= 0:
        raise ValueError(f"an amount to post must be positive, not {amount}")


def _move(source: Account, target: Account, micros: int) -> tuple[Posting, Posting]:
    return Posting(source, -micros), Posting(target, micros)


def top_up(advertiser_id: str, amount: Money, payment_intent_id: str, top_up_id: str):
    """Stripe confirmed a payment: the advertiser can spend it. Once per PaymentIntent."""
    _positive(amount)
    return JournalEntry(
        key=f"top-up:{payment_intent_id}",
        kind=EntryKind.TOP_UP,
        postings=_move(
            platform(AccountKind.STRIPE_CLEARING, amount.currency),
            advertiser_balance(advertiser_id, amount.currency),
            amount.micros,
        ),
        advertiser_id=advertiser_id,
        reference=top_up_id,
        memo=f"Stripe payment {payment_intent_id}",
    )


def refund(advertiser_id: str, amount: Money, refund_id: str, top_up_id: str, reason: str):
    """Money paid back through Stripe leaves the advertiser's balance. Once per refund."""
    _positive(amount)
    return JournalEntry(
        key=f"refund:{refund_id}",
        kind=EntryKind.REFUND,
        postings=_move(
            advertiser_balance(advertiser_id, amount.currency),
            platform(AccountKind.STRIPE_CLEARING, amount.currency),
            amount.micros,
        ),
        advertiser_id=advertiser_id,
        reference=top_up_id,
        memo=reason,
    )


def manual_credit(advertiser_id: str, amount: Money, credit_id: str, reason: str):
    """Money the platform gives (a make-good, a promotion): a cost to the platform."""
    _positive(amount)
    return JournalEntry(
        key=f"credit:{credit_id}",
        kind=EntryKind.MANUAL_CREDIT,
        postings=_move(
            platform(AccountKind.PLATFORM_CREDITS, amount.currency),
            advertiser_balance(advertiser_id, amount.currency),
            amount.micros,
        ),
        advertiser_id=advertiser_id,
        reference=credit_id,
        memo=reason,
    )


def spend(advertiser_id: str, campaign_id: str, amount: Money, first_event_id: int):
    """Charged impressions and clicks of one campaign, posted together. The key names the
    batch by its first event: each event is posted in exactly one batch."""
    _positive(amount)
    return JournalEntry(
        key=f"spend:{first_event_id}",
        kind=EntryKind.SPEND,
        postings=_move(
            advertiser_balance(advertiser_id, amount.currency),
            platform(AccountKind.PLATFORM_REVENUE, amount.currency),
            amount.micros,
        ),
        advertiser_id=advertiser_id,
        campaign_id=campaign_id,
    )


def creator_payable(creator_id: str, currency: str) -> Account:
    return Account(AccountKind.CREATOR_PAYABLE, currency, creator_id)


def fund_pool(run_id: str, amount: Money, source: AccountKind):
    """A payout run's pool leaves its source (platform revenue, or the fund's expense)."""
    _positive(amount)
    return JournalEntry(
        key=f"fund-pool:{run_id}",
        kind=EntryKind.FUND_POOL,
        postings=_move(
            platform(source, amount.currency),
            platform(AccountKind.CREATOR_FUND_POOL, amount.currency),
            amount.micros,
        ),
        reference=run_id,
        memo=f"creator fund pool of payout run {run_id}",
    )


def fund_shares(run_id: str, currency: str, shares: dict[str, int]):
    """The pool, owed to each creator of a run: one entry, one posting per creator."""
    owed = {creator: micros for creator, micros in shares.items() if micros}
    if any(micros < 0 for micros in owed.values()):
        raise ValueError("a share cannot be negative")
    pool = platform(AccountKind.CREATOR_FUND_POOL, currency)
    return JournalEntry(
        key=f"fund-shares:{run_id}",
        kind=EntryKind.FUND_SHARES,
        postings=(Posting(pool, -sum(owed.values())),)
        + tuple(Posting(creator_payable(c, currency), owed[c]) for c in sorted(owed)),
        reference=run_id,
        memo=f"creator shares of payout run {run_id}",
    )


def fund_clawbacks(run_id: str, currency: str, amounts: dict[str, int], source: AccountKind):
    """Shares of earlier runs taken back from creators, returned to the fund's source."""
    taken = {creator: micros for creator, micros in amounts.items() if micros}
    if any(micros < 0 for micros in taken.values()):
        raise ValueError("a clawback cannot be negative")
    return JournalEntry(
        key=f"fund-clawbacks:{run_id}",
        kind=EntryKind.FUND_CLAWBACK,
        postings=tuple(Posting(creator_payable(c, currency), -taken[c]) for c in sorted(taken))
        + (Posting(platform(source, currency), sum(taken.values())),),
        reference=run_id,
        memo=f"clawbacks applied in payout run {run_id}",
    )


def payout(run_id: str, creator_id: str, amount: Money, transfer_id: str):
    """What a creator was owed, paid by a Stripe transfer. Once per run and creator."""
    _positive(amount)
    return JournalEntry(
        key=f"payout:{run_id}:{creator_id}",
        kind=EntryKind.PAYOUT,
        postings=_move(
            creator_payable(creator_id, amount.currency),
            platform(AccountKind.STRIPE_CLEARING, amount.currency),
            amount.micros,
        ),
        reference=transfer_id,
        memo=f"payout run {run_id} to creator {creator_id}",
    )

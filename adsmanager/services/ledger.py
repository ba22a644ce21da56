"""Writing journal entries and reading balances, inside a transaction the caller owns.

``post`` is idempotent: an entry whose key is already in the ledger is skipped, whoever
wrote it and however often it is retried (a unique constraint decides, also between
concurrent transactions). Account balances move in the same transaction, by one atomic
``UPDATE ... SET balance = balance + delta`` per account, applied in account-id order so two
transactions never wait on each other in a cycle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from adsmanager.db.database import Database
from adsmanager.db.ledger import JournalEntry as EntryRow
from adsmanager.db.ledger import LedgerAccount, Posting
from adsmanager.db.upsert import insert_for
from adsmanager.services.access import Actor, scoped
from adsmanager.services.pagination import Page, paginate
from billing.ledger import Account, AccountKind, JournalEntry

# Ids per IN (...): SQLite allows 32,766 bound parameters in a statement.
LOOKUP_CHUNK = 5_000


@dataclass(frozen=True)
class Posted:
    entry_id: int
    key: str


def account_ids(session: Session, accounts: Iterable[Account], now: datetime) -> dict[Account, int]:
    """The ids of these accounts, opening those that do not exist yet."""
    wanted = set(accounts)
    if not wanted:
        return {}
    rows = [
        {
            "kind": a.kind.value,
            "owner_id": a.owner,
            "currency": a.currency,
            "balance_micros": 0,
            "updated_at": now,
        }
        for a in sorted(wanted)
    ]
    session.execute(
        insert_for(session, LedgerAccount).on_conflict_do_nothing(
            index_elements=["kind", "owner_id", "currency"]
        ),
        rows,
    )
    owners = sorted({a.owner for a in wanted})
    kinds = {a.kind.value for a in wanted}
    found = []
    for start in range(0, len(owners), LOOKUP_CHUNK):  # a payout run opens 100,000 accounts
        found += session.execute(
            select(
                LedgerAccount.id,
                LedgerAccount.kind,
                LedgerAccount.owner_id,
                LedgerAccount.currency,
            ).where(
                LedgerAccount.owner_id.in_(owners[start : start + LOOKUP_CHUNK]),
                LedgerAccount.kind.in_(kinds),
            )
        ).all()
    by_account = {
        Account(AccountKind(kind), currency, owner): id_ for id_, kind, owner, currency in found
    }
    return {account: by_account[account] for account in wanted}


def post(
    session: Session,
    entries: Sequence[JournalEntry],
    effective_at: datetime | Sequence[datetime],
    created_by: str | None,
    now: datetime,
) -> list[Posted]:
    """Write the entries not yet in the ledger and move their accounts' balances; the ones
    written, in order. ``effective_at`` is one time for all, or one per entry."""
    if not entries:
        return []
    times = [effective_at] * len(entries) if isinstance(effective_at, datetime) else effective_at
    table = EntryRow.__table__
    inserted = session.execute(
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.id, table.c.idempotency_key),
        [
            {
                "idempotency_key": entry.key,
                "kind": entry.kind.value,
                "advertiser_id": entry.advertiser_id,
                "campaign_id": entry.campaign_id,
                "reference": entry.reference,
                "memo": entry.memo,
                "effective_at": at,
                "created_at": now,
                "created_by": created_by,
            }
            for entry, at in zip(entries, times, strict=True)
        ],
    ).all()
    new_ids = {key: id_ for id_, key in inserted}
    new = [entry for entry in entries if entry.key in new_ids]
    if not new:
        return []
    ids = account_ids(session, (p.account for e in new for p in e.postings), now)
    deltas: dict[int, int] = defaultdict(int)
    rows = []
    for entry in new:
        for posting in entry.postings:
            account_id = ids[posting.account]
            deltas[account_id] += posting.micros
            rows.append(
                {
                    "entry_id": new_ids[entry.key],
                    "account_id": account_id,
                    "currency": posting.account.currency,
                    "amount_micros": posting.micros,
                }
            )
    session.execute(Posting.__table__.insert(), rows)
    accounts = LedgerAccount.__table__
    session.execute(
        update(accounts)
        .where(accounts.c.id == bindparam("account_id"))
        .values(balance_micros=accounts.c.balance_micros + bindparam("delta"), updated_at=now),
        [{"account_id": a, "delta": deltas[a]} for a in sorted(deltas)],
    )
    return [Posted(new_ids[entry.key], entry.key) for entry in new]


def balance(session: Session, account: Account) -> int:
    return (
        session.scalar(
            select(LedgerAccount.balance_micros).where(
                LedgerAccount.kind == account.kind.value,
                LedgerAccount.owner_id == account.owner,
                LedgerAccount.currency == account.currency,
            )
        )
        or 0
    )


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostingView:
    account_kind: str
    owner_id: str
    currency: str
    amount_micros: int


@dataclass(frozen=True)
class EntryView:
    id: int
    idempotency_key: str
    kind: str
    advertiser_id: str | None
    campaign_id: str | None
    reference: str | None
    memo: str | None
    effective_at: datetime
    created_at: datetime
    created_by: str | None
    postings: list[PostingView]


def list_entries(
    db: Database,
    actor: Actor,
    *,
    advertiser_id: str | None,
    kind: str | None,
    page_size: int,
    page_token: str | None,
) -> Page:
    """Journal entries with their postings, newest first (an advertiser sees its own)."""
    statement = scoped(select(EntryRow), EntryRow.advertiser_id, actor)
    if advertiser_id:
        statement = statement.where(EntryRow.advertiser_id == advertiser_id)
    if kind:
        statement = statement.where(EntryRow.kind == kind)
    with db.read() as session:
        page = paginate(session, statement, EntryRow.id, page_size, page_token)
        postings: dict[int, list[PostingView]] = defaultdict(list)
        rows = session.execute(
            select(
                Posting.entry_id,
                LedgerAccount.kind,
                LedgerAccount.owner_id,
                Posting.currency,
                Posting.amount_micros,
            )
            .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
            .where(Posting.entry_id.in_([entry.id for entry in page.items]))
            .order_by(Posting.id)
        )
        for entry_id, *posting in rows:
            postings[entry_id].append(PostingView(*posting))
    items = [
        EntryView(
            **{
                name: getattr(e, name)
                for name in EntryView.__dataclass_fields__
                if name != "postings"
            },
            postings=postings[e.id],
        )
        for e in page.items
    ]
    return Page(items, page.next_page_token)


def list_accounts(
    db: Database, *, kind: str | None, owner_id: str | None, page_size: int, page_token: str | None
) -> Page:
    statement = select(LedgerAccount)
    if kind:
        statement = statement.where(LedgerAccount.kind == kind)
    if owner_id is not None:
        statement = statement.where(LedgerAccount.owner_id == owner_id)
    with db.read() as session:
        return paginate(session, statement, LedgerAccount.id, page_size, page_token)


@dataclass(frozen=True)
class LedgerCheck:
    """The ledger's invariants, checked on the stored rows."""

    entries: int
    # Per currency, the sum of every posting: zero when every entry balances.
    totals_by_currency: dict[str, int]
    # Entries whose postings do not sum to zero, and accounts whose kept balance is not the
    # sum of their postings (both lists empty on a healthy ledger).
    unbalanced_entries: list[int]
    drifted_accounts: list[int]

    @property
    def ok(self) -> bool:
        return (
            not self.unbalanced_entries
            and not self.drifted_accounts
            and not any(self.totals_by_currency.values())
        )


def check(db: Database) -> LedgerCheck:
    with db.read() as session:
        entries = session.scalar(select(func.count()).select_from(EntryRow))
        totals = dict(
            session.execute(
                select(Posting.currency, func.sum(Posting.amount_micros)).group_by(Posting.currency)
            ).all()
        )
        unbalanced = session.scalars(
            select(Posting.entry_id)
            .group_by(Posting.entry_id, Posting.currency)
            .having(func.sum(Posting.amount_micros) != 0)
        ).all()
        sums = (
            select(Posting.account_id, func.sum(Posting.amount_micros).label("micros"))
            .group_by(Posting.account_id)
            .subquery()
        )
        drifted = session.scalars(
            select(LedgerAccount.id)
            .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
            .where(LedgerAccount.balance_micros != func.coalesce(sums.c.micros, 0))
        ).all()
    return LedgerCheck(
        entries,
        {currency: int(total) for currency, total in totals.items()},
        sorted(set(unbalanced)),
        list(drifted),
    )

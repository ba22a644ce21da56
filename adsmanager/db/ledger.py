"""Tables of the double-entry ledger: accounts with their running balances, journal entries
and their postings.

Entries and postings are never updated or deleted (database triggers refuse it, see the
migration); a correction is a new entry. Each entry's idempotency key is unique, so the
same movement of money can be posted only once, whoever retries it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from adsmanager.db.base import Base, UTCDateTime, utcnow
from adsmanager.db.models import ID

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class LedgerAccount(Base):
    """One account per (kind, owner, currency). ``balance_micros`` is the sum of its
    postings, kept up to date in the transaction that writes them (a row lock on
    PostgreSQL), so reading a balance never sums the whole history."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("kind", "owner_id", "currency"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str] = mapped_column(ID)  # "" for the platform's own accounts
    currency: Mapped[str] = mapped_column(String(3))
    balance_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        Index("ix_journal_entries_advertiser_id_effective_at", "advertiser_id", "effective_at"),
        Index("ix_journal_entries_kind_reference", "kind", "reference"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    advertiser_id: Mapped[str | None] = mapped_column(ID)
    campaign_id: Mapped[str | None] = mapped_column(ID)
    reference: Mapped[str | None] = mapped_column(String(200))
    memo: Mapped[str | None] = mapped_column(Text)
    # When the money moved (for spend: the last charged event of the batch); statements
    # are cut by this time. ``created_at`` is when it was written.
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (Index("ix_ledger_postings_account_id_entry_id", "account_id", "entry_id"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_micros: Mapped[int] = mapped_column(BigInteger)

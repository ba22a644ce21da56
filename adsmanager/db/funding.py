"""Tables of funding through Stripe: top-ups, the Stripe events handled, and reconciliations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from adsmanager.db.base import Base, JSONDocument, UTCDateTime, utcnow
from adsmanager.db.ledger import BIG_ID
from adsmanager.db.models import ID, enum_column
from adsmanager.vocabulary import RefundStatus, TopUpStatus


class TopUp(Base):
    """An advertiser's payment through a Stripe PaymentIntent. The balance is credited when
    Stripe's signed webhook says it succeeded, never on the client's word."""

    __tablename__ = "top_ups"
    __table_args__ = (UniqueConstraint("advertiser_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    advertiser_id: Mapped[str] = mapped_column(ForeignKey("advertisers.id"), index=True)
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[TopUpStatus] = mapped_column(enum_column(TopUpStatus, "top_up_status"))
    # The client's Idempotency-Key: the same key twice is the same top-up.
    idempotency_key: Mapped[str] = mapped_column(String(255))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by: Mapped[str | None] = mapped_column(ID)


class Refund(Base):
    """Money paid back through Stripe. Written PENDING before Stripe is asked (so the amount
    is reserved and a retry finds it), finished once Stripe answers."""

    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("advertiser_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    advertiser_id: Mapped[str] = mapped_column(ForeignKey("advertisers.id"))
    top_up_id: Mapped[str] = mapped_column(ForeignKey("top_ups.id"), index=True)
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[RefundStatus] = mapped_column(enum_column(RefundStatus, "refund_status"))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    created_by: Mapped[str] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StripeEvent(Base):
    """A webhook event from Stripe, handled once: Stripe delivers at least once."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reconciliation(Base):
    """One comparison of Stripe's payments and refunds with the ledger, with what differed."""

    __tablename__ = "reconciliations"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    stripe_objects: Mapped[int] = mapped_column(BigInteger)
    ledger_entries: Mapped[int] = mapped_column(BigInteger)
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)

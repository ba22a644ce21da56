"""Tables of delivery: charged events, hourly delivery per ad, and the auction's logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from adsmanager.db.base import Base, JSONDocument, UTCDateTime, utcnow
from adsmanager.db.models import ID


class AdEvent(Base):
    """One accepted impression or click. The unique (impression_id, event_type) is what
    makes each token chargeable at most once per event type."""

    __tablename__ = "ad_events"
    __table_args__ = (
        UniqueConstraint("impression_id", "event_type"),
        Index("ix_ad_events_advertiser_id_occurred_at", "advertiser_id", "occurred_at"),
        # What the spend posting job and the balance check read: charges not yet posted.
        Index(
            "ix_ad_events_unposted",
            "advertiser_id",
            "id",
            postgresql_where=text("posted_entry_id IS NULL AND charge_micros > 0"),
            sqlite_where=text("posted_entry_id IS NULL AND charge_micros > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    impression_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    ad_id: Mapped[str] = mapped_column(ID)
    ad_group_id: Mapped[str] = mapped_column(ID)
    campaign_id: Mapped[str] = mapped_column(ID)
    advertiser_id: Mapped[str] = mapped_column(ID)
    billing_event: Mapped[str] = mapped_column(String(3))
    charge_micros: Mapped[int] = mapped_column(BigInteger)
    position: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The ledger entry this charge was posted in; null until the spend posting job runs.
    posted_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))


def delivery_hour(at: datetime) -> datetime:
    """The hour of ``delivery_hourly`` that an event received at ``at`` is recorded in."""
    return at.replace(minute=0, second=0, microsecond=0)


class DeliveryHour(Base):
    """Impressions, clicks and spend of one ad in one UTC hour: what reports read."""

    __tablename__ = "delivery_hourly"
    __table_args__ = (
        Index("ix_delivery_hourly_advertiser_id_hour", "advertiser_id", "hour"),
        # The spend catch-up's reads (adsmanager/serving/recorded_spend.py).
        Index("ix_delivery_hourly_hour", "hour"),
        Index("ix_delivery_hourly_ad_group_id_hour", "ad_group_id", "hour"),
        Index("ix_delivery_hourly_campaign_id_hour", "campaign_id", "hour"),
    )

    ad_id: Mapped[str] = mapped_column(ID, primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    ad_group_id: Mapped[str] = mapped_column(ID)
    campaign_id: Mapped[str] = mapped_column(ID)
    advertiser_id: Mapped[str] = mapped_column(ID)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    spend_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class ServedAd(Base):
    """Every served ad with the features it was scored on: the CTR model's training data."""

    __tablename__ = "served_ads"
    __table_args__ = (Index("ix_served_ads_served_at", "served_at"),)

    impression_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128))
    served_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[str] = mapped_column(String(128))
    ad_id: Mapped[str] = mapped_column(ID)
    ad_group_id: Mapped[str] = mapped_column(ID)
    advertiser_id: Mapped[str] = mapped_column(ID)
    position: Mapped[int]
    billing_event: Mapped[str] = mapped_column(String(3))
    price_micros: Mapped[int] = mapped_column(BigInteger)
    pctr: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(64))
    features: Mapped[list[float]] = mapped_column(JSONDocument)
    # The FEATURE_SPEC_HASH the features were built under (None: logged before 0012). A
    # vector only trains a model of its own spec, even where another spec has as many
    # columns.
    feature_spec: Mapped[str | None] = mapped_column(String(64))


class AuctionLog(Base):
    """A sample of whole auctions (every candidate, its bid, pCTR, eCPM and price), for
    audit and replay."""

    __tablename__ = "auction_logs"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # Not unique: a feed service may retry a request with the same id.
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    user: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    # The page's ad slots (position, neighbouring creators and categories): with each
    # candidate's feature vector, what a replay with another model needs.
    slots: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument)
    # The FEATURE_SPEC_HASH of the candidates' vectors (None: logged before 0012).
    feature_spec: Mapped[str | None] = mapped_column(String(64))

"""Tables of the campaign management model: advertiser → campaign → ad group → ad, and API keys.

Money columns hold integer micros. Advertiser-owned rows carry ``advertiser_id``
so every query can be scoped to one tenant without joins.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from adsmanager.db.base import Base, JSONDocument, UTCDateTime, utcnow
from adsmanager.vocabulary import (
    AdvertiserStatus,
    BillingEvent,
    BudgetMode,
    CallToAction,
    Objective,
    Pacing,
    ReviewStatus,
    Role,
    Status,
)

ID = String(40)


def enum_column(enum: type[StrEnum], name: str) -> Enum:
    """Stored as its string value, with a named CHECK constraint, on every database."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
    )


def _same_as_created(context) -> datetime:
    return context.get_current_parameters()["created_at"]


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: the auction's snapshot reads what changed since its last look.
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=_same_as_created, onupdate=utcnow, index=True
    )


class Advertiser(Timestamps, Base):
    __tablename__ = "advertisers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    # What it sells, as an interest slug (e.g. "fitness"): a CTR model feature.
    industry: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[AdvertiserStatus] = mapped_column(
        enum_column(AdvertiserStatus, "advertiser_status"), default=AdvertiserStatus.ACTIVE
    )
    # Created on the first top-up.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)


class Campaign(Timestamps, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_advertiser_id_id", "advertiser_id", "id"),
        CheckConstraint("budget_micros > 0", name="budget_positive"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    advertiser_id: Mapped[str] = mapped_column(ForeignKey("advertisers.id"))
    name: Mapped[str] = mapped_column(String(200))
    objective: Mapped[Objective] = mapped_column(enum_column(Objective, "objective"))
    budget_mode: Mapped[BudgetMode] = mapped_column(enum_column(BudgetMode, "budget_mode"))
    budget_micros: Mapped[int] = mapped_column(BigInteger)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[Status] = mapped_column(enum_column(Status, "status"), default=Status.ACTIVE)


class AdGroup(Timestamps, Base):
    __tablename__ = "ad_groups"
    __table_args__ = (
        Index("ix_ad_groups_advertiser_id_id", "advertiser_id", "id"),
        Index("ix_ad_groups_campaign_id_id", "campaign_id", "id"),
        CheckConstraint("bid_micros > 0", name="bid_positive"),
        CheckConstraint(
            "(budget_mode IS NULL) = (budget_micros IS NULL)", name="budget_mode_with_amount"
        ),
        CheckConstraint(
            "(frequency_cap_impressions IS NULL) = (frequency_cap_hours IS NULL)",
            name="frequency_cap_complete",
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    advertiser_id: Mapped[str] = mapped_column(ForeignKey("advertisers.id"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    name: Mapped[str] = mapped_column(String(200))
    billing_event: Mapped[BillingEvent] = mapped_column(enum_column(BillingEvent, "billing_event"))
    bid_micros: Mapped[int] = mapped_column(BigInteger)
    budget_mode: Mapped[BudgetMode | None] = mapped_column(enum_column(BudgetMode, "budget_mode"))
    budget_micros: Mapped[int | None] = mapped_column(BigInteger)
    pacing: Mapped[Pacing] = mapped_column(enum_column(Pacing, "pacing"), default=Pacing.STANDARD)
    frequency_cap_impressions: Mapped[int | None]
    frequency_cap_hours: Mapped[int | None]
    # [{"days": ["MON", ...], "start_hour": 9, "end_hour": 17}, ...] in the advertiser's time
    # zone; null serves at all hours.
    dayparting: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument)
    # {"countries": [...], "languages": [...], ..., "excluded_creators": [...]}
    targeting: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[Status] = mapped_column(enum_column(Status, "status"), default=Status.ACTIVE)

    @property
    def frequency_cap(self) -> dict[str, int] | None:
        if self.frequency_cap_impressions is None:
            return None
        return {
            "max_impressions": self.frequency_cap_impressions,
            "window_hours": self.frequency_cap_hours,
        }


CREATIVE_FIELDS = (
    "video_url",
    "video_id",
    "caption",
    "call_to_action",
    "landing_url",
    "display_name",
)


class Ad(Timestamps, Base):
    __tablename__ = "ads"
    __table_args__ = (
        Index("ix_ads_advertiser_id_id", "advertiser_id", "id"),
        Index("ix_ads_ad_group_id_id", "ad_group_id", "id"),
        Index("ix_ads_review_status_id", "review_status", "id"),
        CheckConstraint("(video_url IS NULL) <> (video_id IS NULL)", name="one_video_source"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    advertiser_id: Mapped[str] = mapped_column(ForeignKey("advertisers.id"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    ad_group_id: Mapped[str] = mapped_column(ForeignKey("ad_groups.id"))
    name: Mapped[str] = mapped_column(String(200))
    video_url: Mapped[str | None] = mapped_column(String(2048))
    video_id: Mapped[str | None] = mapped_column(String(128))
    caption: Mapped[str] = mapped_column(String(2200))
    call_to_action: Mapped[CallToAction] = mapped_column(
        enum_column(CallToAction, "call_to_action")
    )
    landing_url: Mapped[str] = mapped_column(String(2048))
    display_name: Mapped[str] = mapped_column(String(100))
    review_status: Mapped[ReviewStatus] = mapped_column(
        enum_column(ReviewStatus, "review_status"), default=ReviewStatus.PENDING
    )
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(ID)
    status: Mapped[Status] = mapped_column(enum_column(Status, "status"), default=Status.ACTIVE)

    @property
    def creative(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CREATIVE_FIELDS}

    @property
    def creative_version(self) -> str:
        """Names this creative's content: a reviewer approves the version they looked at."""
        text = json.dumps(self.creative, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            "(role = 'advertiser') = (advertiser_id IS NOT NULL)", name="advertiser_role_bound"
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # Public part of the key, used to find the row; the secret is stored only as a hash.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    advertiser_id: Mapped[str | None] = mapped_column(ForeignKey("advertisers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(ID)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

"""Tables of the creator fund: creators, their daily engagement per video, the programme's
rule versions, payout runs with one line per creator, and clawbacks.

Creator and video ids are the platform's own, not ours, so they keep the platform's shape.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from adsmanager.db.base import Base, JSONDocument, UTCDateTime, utcnow
from adsmanager.db.ledger import BIG_ID
from adsmanager.db.models import ID, enum_column
from adsmanager.vocabulary import PayoutLineStatus, PayoutRunStatus, PeriodKind
from billing.fund_rules import Standing

PLATFORM_ID = String(64)


class Creator(Base):
    __tablename__ = "creators"

    id: Mapped[str] = mapped_column(PLATFORM_ID, primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    verified_age: Mapped[int | None] = mapped_column(Integer)  # None: not verified
    followers: Mapped[int] = mapped_column(BigInteger)
    standing: Mapped[Standing] = mapped_column(enum_column(Standing, "creator_standing"))
    joined_on: Mapped[date | None] = mapped_column(Date)  # joined the programme
    stripe_account_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class VideoEngagement(Base):
    """One video's engagement on one day, as the feed service last reported it."""

    __tablename__ = "video_engagement"
    __table_args__ = (
        UniqueConstraint("video_id", "day"),
        Index("ix_video_engagement_day_creator_id", "day", "creator_id"),
        Index("ix_video_engagement_creator_id_day", "creator_id", "day"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    video_id: Mapped[str] = mapped_column(PLATFORM_ID)
    day: Mapped[date] = mapped_column(Date)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id"))
    views: Mapped[int] = mapped_column(BigInteger)
    # Watched at least 5 s and not by the creator; of these, invalid_views were flagged as
    # invalid traffic, and invalid_traffic flags the whole day of the video.
    qualified_views: Mapped[int] = mapped_column(BigInteger)
    invalid_views: Mapped[int] = mapped_column(BigInteger, default=0)
    invalid_traffic: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the fund counts: qualified views that were not flagged (0 for a flagged day).
    counted_views: Mapped[int] = mapped_column(BigInteger)
    watch_time_seconds: Mapped[int] = mapped_column(BigInteger)
    likes: Mapped[int] = mapped_column(BigInteger)
    comments: Mapped[int] = mapped_column(BigInteger)
    shares: Mapped[int] = mapped_column(BigInteger)
    # Indexed: a clawback looks for days of paid runs that changed after the run.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class FundRules(Base):
    """A version of the programme rules; the newest applies to runs computed from then on."""

    __tablename__ = "fund_rules"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))


class PayoutRun(Base):
    __tablename__ = "payout_runs"
    __table_args__ = (UniqueConstraint("period_kind", "period_start"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    period_kind: Mapped[PeriodKind] = mapped_column(enum_column(PeriodKind, "period_kind"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    # The first day of the trailing window (ending with period_end) that eligibility counted
    # qualified views over, from the run's rules. A clawback looks for corrections from here
    # or from period_start, whichever comes first (a month can outlast the window).
    trailing_start: Mapped[date] = mapped_column(Date)
    status: Mapped[PayoutRunStatus] = mapped_column(
        enum_column(PayoutRunStatus, "payout_run_status")
    )
    rules_version: Mapped[int] = mapped_column(ForeignKey("fund_rules.version"))
    currency: Mapped[str] = mapped_column(String(3))
    revenue_micros: Mapped[int] = mapped_column(BigInteger)  # the period's ad revenue
    pool_micros: Mapped[int] = mapped_column(BigInteger)
    distributed_micros: Mapped[int] = mapped_column(BigInteger)
    # Micros per unit of weight below the cap, as an exact fraction "numerator/denominator".
    rate: Mapped[str] = mapped_column(String(80))
    cap_micros: Mapped[int | None] = mapped_column(BigInteger)
    # Totals over the lines, kept with the run so a list of runs reads no lines.
    totals: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # How many runs had been approved when this one was computed: approving it is refused
    # once that number changed (another approval may have taken its carried balances).
    approvals_seen: Mapped[int] = mapped_column(Integer)
    # Engagement rows of this run's period and trailing window changed after this time are
    # checked for clawbacks: an hour before the run was computed, so a batch written while it
    # was computing (its rows carry the time the batch started) is not missed.
    corrections_after: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PayoutLine(Base):
    """One creator in one run, with everything that explains the amount."""

    __tablename__ = "payout_lines"
    __table_args__ = (
        UniqueConstraint("run_id", "creator_id"),
        Index("ix_payout_lines_creator_id_status", "creator_id", "status"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("payout_runs.id"))
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id"))
    status: Mapped[PayoutLineStatus] = mapped_column(
        enum_column(PayoutLineStatus, "payout_line_status")
    )
    exclusions: Mapped[list[str]] = mapped_column(JSONDocument)
    qualified_views: Mapped[int] = mapped_column(BigInteger)
    interactions: Mapped[int] = mapped_column(BigInteger)
    trailing_qualified_views: Mapped[int] = mapped_column(BigInteger)
    # The day the creator had joined the programme when the run was computed: a clawback
    # counts the same days again, even if the platform changes the date later.
    joined_on: Mapped[date | None] = mapped_column(Date)
    weight: Mapped[int] = mapped_column(BigInteger)
    exact_share: Mapped[str] = mapped_column(String(80))  # micros, a fraction "n/d"
    capped: Mapped[bool] = mapped_column(Boolean)
    share_micros: Mapped[int] = mapped_column(BigInteger)
    carried_in_micros: Mapped[int] = mapped_column(BigInteger)
    clawback_micros: Mapped[int] = mapped_column(BigInteger)
    payable_micros: Mapped[int] = mapped_column(BigInteger)
    carried_out_micros: Mapped[int] = mapped_column(BigInteger)
    # Set on approval for a carried line: the run that took its balance over.
    # Where the carried-in balance and the clawbacks came from: {"carried_from": [run ids],
    # "clawbacks": [{"run_id", "weight_paid", "weight_now", "micros"}]}; null when neither.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    carried_to_run_id: Mapped[str | None] = mapped_column(ForeignKey("payout_runs.id"))
    stripe_account_id: Mapped[str | None] = mapped_column(String(255))
    # The Idempotency-Key of the transfer: set before Stripe is asked, so a retry after a
    # crash asks again with the same key; a new key only after Stripe refused the last one.
    transfer_key: Mapped[str | None] = mapped_column(String(200))
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Clawback(Base):
    """Money taken back in ``applied_run_id`` for a creator whose weight in
    ``source_run_id`` turned out lower than the run paid for (traffic found invalid later)."""

    __tablename__ = "fund_clawbacks"
    __table_args__ = (UniqueConstraint("source_run_id", "creator_id", "applied_run_id"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    source_run_id: Mapped[str] = mapped_column(ForeignKey("payout_runs.id"))
    applied_run_id: Mapped[str] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id"))
    weight_paid: Mapped[int] = mapped_column(BigInteger)
    weight_now: Mapped[int] = mapped_column(BigInteger)
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

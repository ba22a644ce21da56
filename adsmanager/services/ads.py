"""Ads: the creative shown in the feed, and its review. Only approved ads serve."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from adsmanager.db.base import new_id, utcnow
from adsmanager.db.database import Database
from adsmanager.db.models import CREATIVE_FIELDS, Ad, AdGroup
from adsmanager.services.access import Actor, scoped
from adsmanager.services.errors import Conflict, FieldErrors, invalid
from adsmanager.services.objects import (
    apply,
    ensure_editable,
    filtered,
    load_owned,
    load_parent,
)
from adsmanager.services.pagination import Page, paginate
from adsmanager.vocabulary import ReviewDecision, ReviewStatus, Status

LABEL = "Ad"


def _check_creative(creative: dict[str, Any], errors: FieldErrors) -> None:
    if (creative.get("video_url") is None) == (creative.get("video_id") is None):
        errors.add("creative.video_url", "Give exactly one of video_url and video_id.")


def create(db: Database, actor: Actor, fields: dict[str, Any]) -> Ad:
    fields = dict(fields)
    creative = fields.pop("creative")
    errors = FieldErrors()
    _check_creative(creative, errors)
    with db.transaction() as session:
        ad_group = load_parent(
            session, AdGroup, actor, fields["ad_group_id"], "ad_group_id", "Ad group", errors
        )
        errors.raise_if_any()
        ad = Ad(
            id=new_id("ad"),
            advertiser_id=ad_group.advertiser_id,
            campaign_id=ad_group.campaign_id,
            review_status=ReviewStatus.PENDING,
            **fields,
            **{name: creative.get(name) for name in CREATIVE_FIELDS},
        )
        session.add(ad)
        session.flush()
        return ad


def get(db: Database, actor: Actor, ad_id: str) -> Ad:
    with db.transaction() as session:
        return load_owned(session, Ad, actor, ad_id, LABEL)


def list_ads(
    db: Database,
    actor: Actor,
    *,
    advertiser_id: str | None,
    campaign_id: str | None,
    ad_group_id: str | None,
    status: Status | None,
    review_status: ReviewStatus | None,
    page_size: int,
    page_token: str | None,
) -> Page:
    statement = scoped(select(Ad), Ad.advertiser_id, actor)
    statement = filtered(
        statement,
        Ad,
        advertiser_id=advertiser_id,
        campaign_id=campaign_id,
        ad_group_id=ad_group_id,
        status=status,
        review_status=review_status,
    )
    with db.transaction() as session:
        return paginate(session, statement, Ad.id, page_size, page_token)


def update_ad(db: Database, actor: Actor, ad_id: str, changes: dict[str, Any]) -> Ad:
    """A changed creative goes back to review: only what a reviewer saw may serve."""
    changes = dict(changes)
    creative_changes = changes.pop("creative", None) or {}
    with db.transaction() as session:
        ad = load_owned(session, Ad, actor, ad_id, LABEL, for_update=True)
        ensure_editable(ad, LABEL.lower())
        current = {name: getattr(ad, name) for name in CREATIVE_FIELDS}
        merged = {**current, **creative_changes}
        # Naming one video source replaces the other.
        for given, other in (("video_url", "video_id"), ("video_id", "video_url")):
            if creative_changes.get(given) is not None and other not in creative_changes:
                merged[other] = None
        errors = FieldErrors()
        _check_creative(merged, errors)
        errors.raise_if_any()
        if merged != current:
            changes.update(
                merged,
                review_status=ReviewStatus.PENDING,
                review_reason=None,
                reviewed_at=None,
                reviewed_by=None,
            )
        apply(ad, changes)
        return ad


def review(
    db: Database,
    actor: Actor,
    ad_id: str,
    decision: ReviewDecision,
    reason: str | None,
    *,
    creative_version: str | None = None,
) -> Ad:
    """Record a decision on the ad's creative; with ``creative_version``, only if the
    creative is still the one the reviewer looked at."""
    if decision is ReviewDecision.REJECT and not (reason and reason.strip()):
        raise invalid("reason", "A rejection needs a reason the advertiser can act on.")
    with db.transaction() as session:
        ad = load_owned(session, Ad, actor, ad_id, LABEL, for_update=True)
        ensure_editable(ad, LABEL.lower())
        if creative_version is not None and creative_version != ad.creative_version:
            raise Conflict(
                "creative_changed",
                "The creative changed after you looked at it; review it again.",
            )
        approved = decision is ReviewDecision.APPROVE
        ad.review_status = ReviewStatus.APPROVED if approved else ReviewStatus.REJECTED
        ad.review_reason = reason.strip() if reason and reason.strip() else None
        ad.reviewed_at = utcnow()
        ad.reviewed_by = actor.id
        return ad


def archive(db: Database, actor: Actor, ad_id: str) -> Ad:
    with db.transaction() as session:
        ad = load_owned(session, Ad, actor, ad_id, LABEL, for_update=True)
        ad.status = Status.ARCHIVED
        return ad

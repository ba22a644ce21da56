"""Campaigns: objective, budget and flight dates of a group of ad groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adsmanager.db.base import new_id, utcnow
from adsmanager.db.database import Database
from adsmanager.db.models import Ad, AdGroup, Advertiser, Campaign
from adsmanager.services.access import Actor, scoped
from adsmanager.services.errors import FieldErrors
from adsmanager.services.objects import (
    apply,
    archive_children,
    ensure_editable,
    filtered,
    load_owned,
)
from adsmanager.services.pagination import Page, paginate
from adsmanager.vocabulary import AdvertiserStatus, BillingEvent, Status
from billing.money import Money

LABEL = "Campaign"


def _check_flight(start: datetime, end: datetime | None, errors: FieldErrors) -> None:
    if end is not None and end <= start:
        errors.add("end_time", "end_time must be after start_time.")


def _check_budget_covers_cpc_bids(
    session: Session, campaign: Campaign, errors: FieldErrors
) -> None:
    highest = session.scalar(
        select(func.max(AdGroup.bid_micros)).where(
            AdGroup.campaign_id == campaign.id,
            AdGroup.billing_event == BillingEvent.CPC,
            AdGroup.status != Status.ARCHIVED,
        )
    )
    if highest is not None and highest > campaign.budget_micros:
        currency = session.get(Advertiser, campaign.advertiser_id).currency
        errors.add(
            "budget_micros",
            f"An ad group of this campaign bids {Money(currency, highest)} per "
            "click, more than this budget; lower that bid first.",
        )


def create(db: Database, actor: Actor, fields: dict[str, Any]) -> Campaign:
    fields = dict(fields)
    errors = FieldErrors()
    advertiser_id = fields.pop("advertiser_id", None) or actor.advertiser_id
    if advertiser_id is None:
        errors.add("advertiser_id", "Missing data for required field.")
        errors.raise_if_any()
    fields.setdefault("start_time", utcnow())
    _check_flight(fields["start_time"], fields.get("end_time"), errors)
    with db.transaction() as session:
        # Locked like any parent (see objects.load_parent): an archive cannot slip past.
        advertiser = session.scalar(
            scoped(
                select(Advertiser).where(Advertiser.id == advertiser_id), Advertiser.id, actor
            ).with_for_update(key_share=True)
        )
        if advertiser is None:
            errors.add("advertiser_id", "Advertiser not found.")
        elif advertiser.status is AdvertiserStatus.ARCHIVED:
            errors.add("advertiser_id", "Advertiser is archived; nothing new can be added to it.")
        errors.raise_if_any()
        campaign = Campaign(id=new_id("cmp"), advertiser_id=advertiser_id, **fields)
        session.add(campaign)
        session.flush()
        return campaign


def get(db: Database, actor: Actor, campaign_id: str) -> Campaign:
    with db.transaction() as session:
        return load_owned(session, Campaign, actor, campaign_id, LABEL)


def list_campaigns(
    db: Database,
    actor: Actor,
    *,
    advertiser_id: str | None,
    status: Status | None,
    page_size: int,
    page_token: str | None,
) -> Page:
    statement = scoped(select(Campaign), Campaign.advertiser_id, actor)
    statement = filtered(statement, Campaign, advertiser_id=advertiser_id, status=status)
    with db.transaction() as session:
        return paginate(session, statement, Campaign.id, page_size, page_token)


def update_campaign(
    db: Database, actor: Actor, campaign_id: str, changes: dict[str, Any]
) -> Campaign:
    with db.transaction() as session:
        campaign = load_owned(session, Campaign, actor, campaign_id, LABEL, for_update=True)
        ensure_editable(campaign, LABEL.lower())
        apply(campaign, changes)
        errors = FieldErrors()
        _check_flight(campaign.start_time, campaign.end_time, errors)
        if "budget_micros" in changes:
            _check_budget_covers_cpc_bids(session, campaign, errors)
        errors.raise_if_any()
        return campaign


def archive(db: Database, actor: Actor, campaign_id: str) -> Campaign:
    """Archive the campaign with its ad groups and ads. Archiving twice changes nothing."""
    with db.transaction() as session:
        campaign = load_owned(session, Campaign, actor, campaign_id, LABEL, for_update=True)
        campaign.status = Status.ARCHIVED
        archive_children(session, "campaign_id", campaign.id, AdGroup, Ad)
        return campaign

"""Ad groups: who sees the ads (targeting), when (dayparting), how often (frequency cap),
and at what price (billing event, bid, optional own budget, pacing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adsmanager.db.base import new_id
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
    load_parent,
)
from adsmanager.services.pagination import Page, paginate
from adsmanager.services.targeting import check_dayparting, check_targeting
from adsmanager.vocabulary import BillingEvent, Objective, Status
from billing.money import Money

LABEL = "Ad group"


def _flatten_frequency_cap(fields: dict[str, Any]) -> None:
    if "frequency_cap" in fields:
        cap = fields.pop("frequency_cap")
        fields["frequency_cap_impressions"] = cap["max_impressions"] if cap else None
        fields["frequency_cap_hours"] = cap["window_hours"] if cap else None


def _check(session: Session, ad_group: AdGroup, campaign: Campaign, errors: FieldErrors) -> None:
    """Rules on the whole ad group as it would be saved, with its campaign."""
    if (ad_group.budget_mode is None) != (ad_group.budget_micros is None):
        errors.add("budget_micros", "Give budget_mode and budget_micros together, or neither.")
    if ad_group.billing_event is BillingEvent.CPC:
        if campaign.objective is Objective.REACH:
            errors.add("billing_event", "REACH campaigns buy impressions: use CPM.")
        budgets = [("the campaign's", campaign.budget_micros)]
        if ad_group.budget_micros is not None:
            budgets.append(("the ad group's", ad_group.budget_micros))
        with session.no_autoflush:  # the changed ad group is checked before it is written
            currency = session.get(Advertiser, campaign.advertiser_id).currency
        for whose, budget in budgets:
            if ad_group.bid_micros > budget:
                errors.add(
                    "bid_micros",
                    f"A CPC bid of {Money(currency, ad_group.bid_micros)} is larger "
                    f"than {whose} budget of {Money(currency, budget)}.",
                )


def create(db: Database, actor: Actor, fields: dict[str, Any]) -> AdGroup:
    fields = dict(fields)
    _flatten_frequency_cap(fields)
    errors = FieldErrors()
    fields["targeting"] = check_targeting(fields.get("targeting") or {}, errors)
    fields["dayparting"] = check_dayparting(fields.get("dayparting"), errors)
    with db.transaction() as session:
        campaign = load_parent(
            session, Campaign, actor, fields["campaign_id"], "campaign_id", "Campaign", errors
        )
        ad_group = AdGroup(id=new_id("adg"), **fields)
        if campaign is not None:
            ad_group.advertiser_id = campaign.advertiser_id
            _check(session, ad_group, campaign, errors)
        errors.raise_if_any()
        session.add(ad_group)
        session.flush()
        return ad_group


def get(db: Database, actor: Actor, ad_group_id: str) -> AdGroup:
    with db.transaction() as session:
        return load_owned(session, AdGroup, actor, ad_group_id, LABEL)


def list_ad_groups(
    db: Database,
    actor: Actor,
    *,
    advertiser_id: str | None,
    campaign_id: str | None,
    status: Status | None,
    page_size: int,
    page_token: str | None,
) -> Page:
    statement = scoped(select(AdGroup), AdGroup.advertiser_id, actor)
    statement = filtered(
        statement, AdGroup, advertiser_id=advertiser_id, campaign_id=campaign_id, status=status
    )
    with db.transaction() as session:
        return paginate(session, statement, AdGroup.id, page_size, page_token)


def update_ad_group(
    db: Database, actor: Actor, ad_group_id: str, changes: dict[str, Any]
) -> AdGroup:
    changes = dict(changes)
    _flatten_frequency_cap(changes)
    errors = FieldErrors()
    if "targeting" in changes:
        changes["targeting"] = check_targeting(changes["targeting"] or {}, errors)
    if "dayparting" in changes:
        changes["dayparting"] = check_dayparting(changes["dayparting"], errors)
    with db.transaction() as session:
        # The campaign is locked before the ad group, in the order its budget change and its
        # archive take them: the bid is checked against a budget no one is changing.
        campaign_id = load_owned(session, AdGroup, actor, ad_group_id, LABEL).campaign_id
        campaign = session.get(Campaign, campaign_id, with_for_update={"key_share": True})
        ad_group = load_owned(session, AdGroup, actor, ad_group_id, LABEL, for_update=True)
        ensure_editable(ad_group, LABEL.lower())
        apply(ad_group, changes)
        _check(session, ad_group, campaign, errors)
        errors.raise_if_any()
        return ad_group


def archive(db: Database, actor: Actor, ad_group_id: str) -> AdGroup:
    with db.transaction() as session:
        ad_group = load_owned(session, AdGroup, actor, ad_group_id, LABEL, for_update=True)
        ad_group.status = Status.ARCHIVED
        archive_children(session, "ad_group_id", ad_group.id, Ad)
        return ad_group

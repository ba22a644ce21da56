"""Advertisers: the tenants. Admins create and manage them; advertisers see their own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adsmanager.db.base import is_well_formed_id, new_id
from adsmanager.db.database import Database
from adsmanager.db.models import Ad, AdGroup, Advertiser, Campaign
from adsmanager.services import api_keys, reference
from adsmanager.services.access import Actor, scoped
from adsmanager.services.errors import Conflict, FieldErrors, NotFound
from adsmanager.services.objects import apply, archive_children
from adsmanager.services.pagination import Page, paginate
from adsmanager.services.targeting import slug_error
from adsmanager.vocabulary import AdvertiserStatus, Role


def _check(fields: dict[str, Any], errors: FieldErrors) -> None:
    if "currency" in fields and fields["currency"] not in reference.currency_codes():
        errors.add(
            "currency", f"Unknown currency '{fields['currency']}'; use ISO 4217, e.g. 'USD'."
        )
    if "timezone" in fields and (problem := reference.time_zone_error(fields["timezone"])):
        errors.add("timezone", problem)
    industry = fields.get("industry")
    if industry is not None and (problem := slug_error(industry)):
        errors.add("industry", problem)


def create(
    db: Database,
    actor: Actor,
    *,
    name: str,
    currency: str,
    timezone: str,
    industry: str | None = None,
) -> tuple[Advertiser, api_keys.IssuedKey]:
    """Create an advertiser and its first API key, in one transaction."""
    errors = FieldErrors()
    _check({"currency": currency, "timezone": timezone, "industry": industry}, errors)
    errors.raise_if_any()
    with db.transaction() as session:
        advertiser = Advertiser(
            id=new_id("adv"),
            name=name,
            currency=currency,
            timezone=timezone,
            industry=industry,
            status=AdvertiserStatus.ACTIVE,
        )
        session.add(advertiser)
        session.flush()
        key = api_keys.issue(
            session,
            role=Role.ADVERTISER,
            advertiser_id=advertiser.id,
            name="first key",
            created_by=actor.id,
        )
        return advertiser, key


def load(session: Session, actor: Actor, advertiser_id: str) -> Advertiser:
    advertiser = (
        session.get(Advertiser, advertiser_id) if is_well_formed_id(advertiser_id) else None
    )
    if advertiser is None or not actor.sees_advertiser(advertiser_id):
        raise NotFound("Advertiser")
    return advertiser


def get(db: Database, actor: Actor, advertiser_id: str) -> Advertiser:
    with db.transaction() as session:
        return load(session, actor, advertiser_id)


def list_advertisers(
    db: Database,
    actor: Actor,
    *,
    status: AdvertiserStatus | None,
    page_size: int,
    page_token: str | None,
) -> Page:
    statement = scoped(select(Advertiser), Advertiser.id, actor)
    if status is not None:
        statement = statement.where(Advertiser.status == status)
    with db.transaction() as session:
        return paginate(session, statement, Advertiser.id, page_size, page_token)


def update_advertiser(
    db: Database, actor: Actor, advertiser_id: str, changes: dict[str, Any]
) -> Advertiser:
    errors = FieldErrors()
    _check(changes, errors)
    errors.raise_if_any()
    with db.transaction() as session:
        advertiser = load(session, actor, advertiser_id)
        if advertiser.status is AdvertiserStatus.ARCHIVED:
            raise Conflict("archived", "Archived advertisers cannot be changed.")
        apply(advertiser, changes)
        return advertiser


def archive(db: Database, actor: Actor, advertiser_id: str) -> Advertiser:
    """Archive the advertiser and everything it owns. Its keys still read, nothing serves."""
    with db.transaction() as session:
        advertiser = load(session, actor, advertiser_id)
        advertiser.status = AdvertiserStatus.ARCHIVED
        archive_children(session, "advertiser_id", advertiser_id, Campaign, AdGroup, Ad)
        return advertiser

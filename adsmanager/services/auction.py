"""The feed service's call: the organic feed in, the same feed with priced ads out.

Nothing here queries the database: the ad groups come from the worker's snapshot, budgets
and caps from the shared counters, and the logs leave through the background writer.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from adsmanager.db.delivery import AuctionLog, ServedAd
from adsmanager.db.models import CREATIVE_FIELDS
from adsmanager.services import reference
from adsmanager.services.errors import invalid
from adsmanager.serving.runtime import Serving
from auction import engine
from auction.features import FEATURE_SPEC_HASH, matrix
from auction.history import CtrHistory
from auction.insertion import AdLoadOutOfRange, apply_overrides
from auction.tokens import CLICK, IMPRESSION, TrackedEvent
from auction.types import CPC, CPM, FeedItem, User

IMPRESSIONS_PER_MILLE = 1000


def per_event_price(billing_event: str, price_micros: int) -> int:
    """What one billable event costs: a CPM price is per 1000 impressions, so one impression
    costs a thousandth of it, rounded down so it never exceeds the bid."""
    return price_micros // IMPRESSIONS_PER_MILLE if billing_event == CPM else price_micros


def _ad_item(serving: Serving, request: engine.Request, winner: engine.Winner) -> dict:
    placement, ad_group, ad = winner.placement, winner.ad_group, winner.ad
    price = per_event_price(ad_group.billing_event, placement.price_micros)
    impression_id = "imp_" + secrets.token_hex(12)
    expires_at = int(request.now.timestamp()) + serving.settings.token_ttl_seconds

    def token(event_type: str, charged: bool) -> str:
        return serving.signer.sign(
            TrackedEvent(
                impression_id=impression_id,
                event_type=event_type,
                request_id=request.request_id,
                user_id=request.user.id,
                ad_id=ad.ad_id,
                ad_group_id=ad_group.ad_group_id,
                campaign_id=ad_group.campaign_id,
                advertiser_id=ad_group.advertiser_id,
                billing_event=ad_group.billing_event,
                charge_micros=price if charged else 0,
                position=placement.position,
                expires_at=expires_at,
            )
        )

    return {
        "type": "ad",
        "position": placement.position,
        "impression_id": impression_id,
        "ad_id": ad.ad_id,
        "ad_group_id": ad_group.ad_group_id,
        "campaign_id": ad_group.campaign_id,
        "advertiser_id": ad_group.advertiser_id,
        "creative": {name: getattr(ad.creative, name) for name in CREATIVE_FIELDS},
        "billing_event": ad_group.billing_event,
        "price_micros": price,
        "pctr": placement.bid.pctr,
        "ecpm_micros": placement.ecpm_micros,
        "tracking": {
            "impression": token(IMPRESSION, ad_group.billing_event == CPM),
            "click": token(CLICK, ad_group.billing_event == CPC),
        },
    }


def _log(
    serving: Serving,
    request: engine.Request,
    outcome: engine.Outcome,
    items: list[dict],
    history: CtrHistory,
) -> None:
    winners = {w.placement.position: w for w in outcome.winners}
    served = [item for item in items if item["type"] == "ad"]
    # What the model reads, from the same history the auction used: the page's rows in one
    # pass (each row equals ``vectorize`` of its ad).
    ad_groups = [winners[item["position"]].ad_group for item in served]
    positions = [item["position"] for item in served]
    rows = (
        matrix(request.user, ad_groups, positions, request.now, history).tolist() if served else []
    )
    for item, features in zip(served, rows, strict=True):
        serving.logs.put(
            ServedAd,
            {
                "impression_id": item["impression_id"],
                "request_id": request.request_id,
                "served_at": request.now,
                "user_id": request.user.id,
                "ad_id": item["ad_id"],
                "ad_group_id": item["ad_group_id"],
                "advertiser_id": item["advertiser_id"],
                "position": item["position"],
                "billing_event": item["billing_event"],
                "price_micros": item["price_micros"],
                "pctr": item["pctr"],
                "model_version": outcome.model_version,
                "features": features,
                "feature_spec": FEATURE_SPEC_HASH,
            },
        )
    if outcome.bids and random.random() < serving.settings.auction_log_sample_rate:
        # Each candidate with its vector at the first slot, for replays (which rescore it at
        # every slot, as the auction did).
        scored = matrix(
            request.user,
            outcome.scored,
            [outcome.slots[0].position] * len(outcome.scored),
            request.now,
            history,
        )
        serving.logs.put(
            AuctionLog,
            {
                "request_id": request.request_id,
                "at": request.now,
                "model_version": outcome.model_version,
                "user": {**asdict(request.user), "interests": sorted(request.user.interests)},
                "candidates": [
                    {**candidate, "features": row}
                    for candidate, row in zip(outcome.candidates, scored.tolist(), strict=True)
                ],
                "feature_spec": FEATURE_SPEC_HASH,
                "slots": [
                    {
                        "position": slot.position,
                        "neighbours": [
                            {"creator_id": item.creator_id, "category": item.category}
                            for item in slot.neighbours
                        ],
                    }
                    for slot in outcome.slots
                ],
            },
        )


def _user(user: dict[str, Any]) -> User:
    """The viewer, in the case targeting is written in (countries upper, languages and
    interests lower), so "us" or "Sports" match what an ad group targets."""
    country, language = user.get("country"), user.get("language")
    return User(
        **{
            **user,
            "country": country.upper() if country else country,
            "language": language.lower() if language else language,
            "interests": frozenset(interest.lower() for interest in user.get("interests") or ()),
        }
    )


def serve(serving: Serving, body: dict[str, Any], now: datetime | None = None) -> dict:
    """``body`` is the validated request: request_id, user, feed, optional ad_load."""
    try:
        policy = apply_overrides(
            serving.config.ad_load, serving.ad_load_limits, **(body.get("ad_load") or {})
        )
    except AdLoadOutOfRange as error:
        raise invalid(f"ad_load.{error.field}", str(error)) from None
    timezone = body["user"].get("timezone")
    if timezone is not None and (problem := reference.time_zone_error(timezone)):
        raise invalid("user.timezone", problem)
    request = engine.Request(
        request_id=body["request_id"],
        user=_user(body["user"]),
        feed=tuple(FeedItem(**item) for item in body["feed"]),
        now=now or datetime.now(UTC),
        ad_load=policy,
    )
    snapshot = serving.snapshots.current()
    history = serving.history.current()
    outcome = engine.run(
        request, snapshot.market, serving.predictor, serving.state, serving.config, history
    )
    items = []
    for item in outcome.items:
        if isinstance(item, engine.Winner):
            items.append(_ad_item(serving, request, item))
        else:
            items.append(
                {
                    "type": "organic",
                    "position": len(items),
                    "video_id": item.video_id,
                    "creator_id": item.creator_id,
                    "category": item.category,
                }
            )
    _log(serving, request, outcome, items, history)
    return {
        "request_id": request.request_id,
        "model_version": outcome.model_version,
        "items": items,
    }

"""Replay the logged auctions of a window with a candidate model against the active one."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from adsmanager.db.database import Database
from adsmanager.db.delivery import AuctionLog
from adsmanager.services import ctr_models
from adsmanager.services.errors import Conflict
from auction.features import FEATURE_SPEC_HASH
from auction.pricing import Slot
from auction.replay import LoggedAuction, replay
from auction.types import Bid, FeedItem, ReservePrices


def logged_auctions(
    db: Database, since: datetime | None, until: datetime | None
) -> list[LoggedAuction]:
    """The sampled auctions of the window that carry what a replay needs (slots, and feature
    vectors of the current feature spec)."""
    statement = (
        select(AuctionLog)
        .where(AuctionLog.slots.is_not(None), AuctionLog.feature_spec == FEATURE_SPEC_HASH)
        .order_by(AuctionLog.id)
    )
    if since is not None:
        statement = statement.where(AuctionLog.at >= since)
    if until is not None:
        statement = statement.where(AuctionLog.at < until)
    auctions = []
    with db.read() as session:
        for log in session.scalars(statement.execution_options(yield_per=1000)):
            auction = _logged_auction(log)
            if auction is not None:
                auctions.append(auction)
    return auctions


def _logged_auction(log: AuctionLog) -> LoggedAuction | None:
    candidates = log.candidates
    if not log.slots:
        return None  # a page without ad slots
    slots = tuple(
        Slot(
            slot["position"],
            tuple(FeedItem("", n["creator_id"], n["category"]) for n in slot["neighbours"]),
        )
        for slot in log.slots
    )
    bids = tuple(
        Bid(
            ad_group_id=c["ad_group_id"],
            advertiser_id=c["advertiser_id"],
            billing_event=c["billing_event"],
            bid_micros=c["bid_micros"],
            pctr=c["pctr"],
            excluded_creators=frozenset(c["excluded_creators"]),
            excluded_categories=frozenset(c["excluded_categories"]),
            tie_breaker=c["tie_breaker"],
        )
        for c in candidates
    )
    features = np.asarray([c["features"] for c in candidates], dtype=np.float64)
    return LoggedAuction(slots, bids, features)


def replay_model(
    db: Database,
    model_id: str,
    reserves: ReservePrices,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Expected revenue, clicks and impressions of the logged auctions with the active model
    and with ``model_id``, both judged by ``model_id``'s pCTR."""
    candidate_record = ctr_models.get(db, model_id)
    active_record = ctr_models.active(db)
    if active_record is None:
        raise Conflict("no_active_model", "There is no active model to compare with.")
    try:
        candidate, active = ctr_models.load(candidate_record), ctr_models.load(active_record)
    except ValueError as error:
        raise Conflict("model_unusable", f"A model cannot be loaded: {error}") from None
    report = replay(
        logged_auctions(db, since, until),
        active.predict_rows,
        candidate.predict_rows,
        candidate.predict_rows,
        reserves,
    )
    return {
        "model_id": model_id,
        "active_model_id": active_record.id,
        "auctions": report.auctions,
        "changed_auctions": report.changed,
        "active": asdict(report.active),
        "candidate": asdict(report.candidate),
        "revenue_change": report.change("revenue_micros"),
        "clicks_change": report.change("clicks"),
    }

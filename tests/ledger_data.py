"""Charged events written straight to the database, for tests about what happens to them
after the events API accepted them (posting, balances, statements)."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime

from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent

_positions = itertools.count()


def charge(
    db: Database,
    advertiser_id: str,
    micros: int,
    campaign_id: str = "cmp_test",
    at: datetime | None = None,
    event_type: str = "click",
) -> str:
    """One accepted, charged event; its impression id."""
    impression_id = uuid.uuid4().hex
    with db.transaction() as session:
        session.add(
            AdEvent(
                impression_id=impression_id,
                event_type=event_type,
                request_id="req",
                user_id="u1",
                ad_id="ad_test",
                ad_group_id="adg_test",
                campaign_id=campaign_id,
                advertiser_id=advertiser_id,
                billing_event="CPC",
                charge_micros=micros,
                position=next(_positions) % 10,
                occurred_at=at or utcnow(),
                received_at=at or utcnow(),
            )
        )
    return impression_id

"""The click-through history the CTR model reads, per worker, reloaded in the background.

Counted from the hourly delivery roll-up over the trailing ``history_days``; at most
``history_refresh_seconds`` old, so every feature is computed from data before the request.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, select

from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.db.delivery import DeliveryHour
from adsmanager.serving import heap
from adsmanager.serving.background import poll_forever
from auction.history import Counts, CtrHistory


def load(db: Database, days: int) -> CtrHistory:
    statement = (
        select(
            DeliveryHour.ad_group_id,
            DeliveryHour.advertiser_id,
            func.sum(DeliveryHour.impressions),
            func.sum(DeliveryHour.clicks),
        )
        .where(DeliveryHour.hour >= utcnow() - timedelta(days=days))
        .group_by(DeliveryHour.ad_group_id, DeliveryHour.advertiser_id)
    )
    with db.read() as session:
        rows = session.execute(statement).all()
    ad_groups = {}
    advertisers: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    total = [0, 0]
    for ad_group_id, advertiser_id, impressions, clicks in rows:
        impressions, clicks = int(impressions or 0), int(clicks or 0)
        ad_groups[ad_group_id] = Counts(impressions, clicks)
        for counts in (advertisers[advertiser_id], total):
            counts[0] += impressions
            counts[1] += clicks
    return CtrHistory(
        ad_groups, {key: Counts(*value) for key, value in advertisers.items()}, Counts(*total)
    )


class HistoryHolder:
    def __init__(self, db: Database, refresh_seconds: float, days: int) -> None:
        self._db = db
        self._refresh_seconds = refresh_seconds
        self._days = days
        self._history: CtrHistory | None = None
        self._lock = threading.Lock()

    def current(self) -> CtrHistory:
        if self._history is None:
            with self._lock:
                if self._history is None:
                    self._history = load(self._db, self._days)
                    heap.settle()
                    poll_forever("history-refresh", self._refresh_seconds, self.refresh)
        return self._history

    def refresh(self) -> None:
        self._history = load(self._db, self._days)
        heap.settle()

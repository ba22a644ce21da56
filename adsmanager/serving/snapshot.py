"""An in-memory snapshot of every servable ad group, rebuilt in the background when the
database changes, so the auction never waits on a query."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adsmanager.db.database import Database
from adsmanager.db.models import Ad, AdGroup, Advertiser, Campaign
from adsmanager.vocabulary import AdvertiserStatus, ReviewStatus, Status, Weekday
from auction import types
from auction.market import Market

log = logging.getLogger(__name__)
WEEKDAYS = [day.value for day in Weekday]


@dataclass(frozen=True)
class Snapshot:
    ad_groups: tuple[types.AdGroup, ...]
    market: Market
    fingerprint: tuple
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _fingerprint(session: Session) -> tuple:
    """Changes whenever a row that can affect serving is added or changed (rows are never
    deleted, only archived, and every change moves updated_at)."""
    marks = []
    for model in (Advertiser, Campaign, AdGroup, Ad):
        marks.extend(session.execute(select(func.count(), func.max(model.updated_at))).one())
    return tuple(marks)


def _hours_of_week(windows: list[dict] | None) -> frozenset[int] | None:
    if windows is None:
        return None
    return frozenset(
        WEEKDAYS.index(day) * 24 + hour
        for window in windows
        for day in window["days"]
        for hour in range(window["start_hour"], window["end_hour"])
    )


def _targeting(stored: dict) -> types.Targeting:
    return types.Targeting(
        **{
            name: frozenset(stored.get(name) or ())
            for name in (
                "countries",
                "languages",
                "age_groups",
                "genders",
                "os",
                "interests",
                "excluded_categories",
                "excluded_creators",
            )
        }
    )


def _budget(mode, amount) -> types.Budget | None:
    return None if mode is None else types.Budget(mode=str(mode), amount_micros=amount)


def load_ad_groups(session: Session) -> list[types.AdGroup]:
    servable_ads = select(Ad).where(
        Ad.status == Status.ACTIVE, Ad.review_status == ReviewStatus.APPROVED
    )
    ads_by_group: dict[str, list[types.Ad]] = defaultdict(list)
    for ad in session.scalars(servable_ads.order_by(Ad.id)):
        ads_by_group[ad.ad_group_id].append(types.Ad(ad.id, types.Creative(**ad.creative)))
    rows = session.execute(
        select(AdGroup, Campaign, Advertiser.timezone)
        .join(Campaign, Campaign.id == AdGroup.campaign_id)
        .join(Advertiser, Advertiser.id == AdGroup.advertiser_id)
        .where(
            AdGroup.status == Status.ACTIVE,
            Campaign.status == Status.ACTIVE,
            Advertiser.status == AdvertiserStatus.ACTIVE,
        )
        .order_by(AdGroup.id)
    )
    snapshot = []
    for ad_group, campaign, timezone in rows:
        ads = ads_by_group.get(ad_group.id)
        if not ads:
            continue
        cap = ad_group.frequency_cap
        snapshot.append(
            types.AdGroup(
                ad_group_id=ad_group.id,
                campaign_id=campaign.id,
                advertiser_id=ad_group.advertiser_id,
                objective=str(campaign.objective),
                billing_event=str(ad_group.billing_event),
                bid_micros=ad_group.bid_micros,
                targeting=_targeting(ad_group.targeting),
                ads=tuple(ads),
                timezone=timezone,
                campaign_start=campaign.start_time,
                campaign_end=campaign.end_time,
                campaign_budget=_budget(campaign.budget_mode, campaign.budget_micros),
                ad_group_budget=_budget(ad_group.budget_mode, ad_group.budget_micros),
                pacing=str(ad_group.pacing),
                frequency_cap=(cap["max_impressions"], cap["window_hours"]) if cap else None,
                dayparting=_hours_of_week(ad_group.dayparting),
            )
        )
    return snapshot


def build(db: Database, prior_ctr: float) -> Snapshot:
    with db.read() as session:
        fingerprint = _fingerprint(session)
        ad_groups = tuple(load_ad_groups(session))
    return Snapshot(ad_groups, Market(ad_groups, prior_ctr), fingerprint)


class SnapshotHolder:
    """Holds the current snapshot and refreshes it from a daemon thread.

    Each worker process has its own; the thread starts on first use, after gunicorn forks.
    A failed refresh keeps the last good snapshot and is logged.
    """

    def __init__(self, db: Database, refresh_seconds: float, prior_ctr: float) -> None:
        self._db = db
        self._prior_ctr = prior_ctr
        self._refresh_seconds = refresh_seconds
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def current(self) -> Snapshot:
        if self._snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = build(self._db, self._prior_ctr)
                    self._start_refresher()
        return self._snapshot

    def refresh(self) -> bool:
        """Rebuild if the database changed; True when a new snapshot was swapped in."""
        with self._db.read() as session:
            fingerprint = _fingerprint(session)
        if self._snapshot is not None and fingerprint == self._snapshot.fingerprint:
            return False
        self._snapshot = build(self._db, self._prior_ctr)
        return True

    def _start_refresher(self) -> None:
        if self._refresh_seconds <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="snapshot-refresh", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._refresh_seconds)
            try:
                if self.refresh():
                    log.info(
                        "ad group snapshot rebuilt: %d servable", len(self._snapshot.ad_groups)
                    )
            except Exception:  # keep serving the last good snapshot
                log.exception("snapshot refresh failed")

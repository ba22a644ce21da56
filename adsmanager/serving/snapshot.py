"""An in-memory snapshot of every servable ad group, kept fresh from a background thread, so
the auction never waits on a query.

Servable: the ad group, its campaign and its advertiser are ACTIVE and it has at least one
approved, active ad. The first load reads everything; after that, every refresh reads only
the ad groups touched since the previous look (rows are never deleted, and every change
moves ``updated_at``) and swaps in a new snapshot if any servable ad group actually differs.
Rows are read as plain tuples and equal values (targeting lists, creatives, strings) are
shared, which keeps a worker's memory small with 100,000 ad groups.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from adsmanager.db.database import Database
from adsmanager.db.models import Ad, AdGroup, Advertiser, Campaign
from adsmanager.serving import heap
from adsmanager.serving.background import poll_forever
from adsmanager.vocabulary import (
    TARGETING_FIELDS,
    AdvertiserStatus,
    ReviewStatus,
    Status,
    Weekday,
)
from auction import types
from auction.history import CtrHistory
from auction.market import Market

log = logging.getLogger(__name__)
WEEKDAYS = [day.value for day in Weekday]
# Each refresh looks this far before the previous look: a transaction stamps updated_at when
# it writes but becomes visible when it commits, a little later (and clocks of hosts differ).
LOOK_BACK = timedelta(seconds=10)
# How long before a minute begins the refresher works out which ad groups are live in it, so
# that no request has to (130 ms with 100,000 ad groups).
LIVE_MASK_LEAD = timedelta(seconds=15)


@dataclass(frozen=True)
class Snapshot:
    ad_groups: dict[str, types.AdGroup]
    market: Market
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class _Shared:
    """Hands out one object per distinct value, so 100,000 ad groups that target "US" hold
    one "US" and one frozenset({"US"})."""

    def __init__(self) -> None:
        self._values: dict = {}
        self._targetings: dict = {}

    def targeting(self, key: tuple, make) -> types.Targeting:
        found = self._targetings.get(key)
        if found is None:
            found = self._targetings[key] = self(make())
        return found

    def __call__(self, value):
        if isinstance(value, str):
            return sys.intern(str(value))  # str(): enum members are str subclasses
        return self._values.setdefault(value, value)


def _hours_of_week(windows: list[dict] | None) -> frozenset[int] | None:
    if windows is None:
        return None
    return frozenset(
        WEEKDAYS.index(day) * 24 + hour
        for window in windows
        for day in window["days"]
        for hour in range(window["start_hour"], window["end_hour"])
    )


def _targeting(stored: dict, shared: _Shared) -> types.Targeting:
    # Keyed by the stored lists, so each distinct targeting is built once per load.
    key = tuple(tuple(stored.get(name) or ()) for name in TARGETING_FIELDS)
    return shared.targeting(
        key,
        lambda: types.Targeting(
            **{
                name: shared(frozenset(shared(value) for value in values))
                for name, values in zip(TARGETING_FIELDS, key, strict=True)
            }
        ),
    )


def _budget(mode, amount) -> types.Budget | None:
    return None if mode is None else types.Budget(mode=str(mode), amount_micros=amount)


AD_COLUMNS = (
    Ad.id,
    Ad.ad_group_id,
    Ad.video_url,
    Ad.video_id,
    Ad.caption,
    Ad.call_to_action,
    Ad.landing_url,
    Ad.display_name,
)
GROUP_COLUMNS = (
    AdGroup.id,
    AdGroup.advertiser_id,
    AdGroup.billing_event,
    AdGroup.bid_micros,
    AdGroup.budget_mode,
    AdGroup.budget_micros,
    AdGroup.pacing,
    AdGroup.frequency_cap_impressions,
    AdGroup.frequency_cap_hours,
    AdGroup.dayparting,
    AdGroup.targeting,
    Campaign.id,
    Campaign.objective,
    Campaign.budget_mode,
    Campaign.budget_micros,
    Campaign.start_time,
    Campaign.end_time,
    Advertiser.timezone,
    Advertiser.industry,
)


def load_ad_groups(session: Session, only: Iterable[str] | None = None) -> dict[str, types.AdGroup]:
    """The servable ad groups (of ``only``, if given), by id."""
    shared = _Shared()
    ads_query = select(*AD_COLUMNS).where(
        Ad.status == Status.ACTIVE, Ad.review_status == ReviewStatus.APPROVED
    )
    groups_query = (
        select(*GROUP_COLUMNS)
        .join(Campaign, Campaign.id == AdGroup.campaign_id)
        .join(Advertiser, Advertiser.id == AdGroup.advertiser_id)
        .where(
            AdGroup.status == Status.ACTIVE,
            Campaign.status == Status.ACTIVE,
            Advertiser.status == AdvertiserStatus.ACTIVE,
        )
    )
    if only is not None:
        only = list(only)
        ads_query = ads_query.where(Ad.ad_group_id.in_(only))
        groups_query = groups_query.where(AdGroup.id.in_(only))
    ads: dict[str, list[types.Ad]] = defaultdict(list)
    # Streamed in batches: the whole result at once would double a worker's peak memory.
    stream = {"yield_per": 2000}
    for ad_id, group_id, *creative in session.execute(
        ads_query.order_by(Ad.id), execution_options=stream
    ):
        creative = [shared(value) if value is not None else None for value in creative]
        ads[group_id].append(types.Ad(ad_id, shared(types.Creative(*creative))))
    servable = {}
    for row in session.execute(groups_query, execution_options=stream):
        (
            group_id,
            advertiser_id,
            billing_event,
            bid,
            own_mode,
            own_amount,
            pacing,
            cap_max,
            cap_hours,
            dayparting,
            targeting,
            campaign_id,
            objective,
            campaign_mode,
            campaign_amount,
            start,
            end,
            timezone,
            industry,
        ) = row
        if group_id not in ads:
            continue
        servable[group_id] = types.AdGroup(
            ad_group_id=group_id,
            campaign_id=campaign_id,
            advertiser_id=shared(advertiser_id),
            objective=shared(str(objective)),
            billing_event=shared(str(billing_event)),
            bid_micros=bid,
            targeting=_targeting(targeting, shared),
            ads=tuple(ads[group_id]),
            timezone=shared(timezone),
            campaign_start=start,
            campaign_end=end,
            campaign_budget=shared(_budget(campaign_mode, campaign_amount)),
            ad_group_budget=shared(_budget(own_mode, own_amount)),
            pacing=shared(str(pacing)),
            frequency_cap=(cap_max, cap_hours) if cap_max is not None else None,
            dayparting=shared(_hours_of_week(dayparting)),
            industry=shared(industry),
        )
    return servable


def _touched_ad_groups(session: Session, since: datetime) -> set[str]:
    """Ad groups that changed, or whose ads, campaign or advertiser changed, since ``since``."""
    query = union(
        select(AdGroup.id).where(AdGroup.updated_at > since),
        select(Ad.ad_group_id).where(Ad.updated_at > since),
        select(AdGroup.id)
        .join(Campaign, Campaign.id == AdGroup.campaign_id)
        .where(Campaign.updated_at > since),
        select(AdGroup.id)
        .join(Advertiser, Advertiser.id == AdGroup.advertiser_id)
        .where(Advertiser.updated_at > since),
    )
    return set(session.scalars(query))


def build(db: Database, prior_ctr: float, history: CtrHistory | None = None) -> Snapshot:
    with db.read() as session:
        ad_groups = load_ad_groups(session)
    return Snapshot(ad_groups, Market(list(ad_groups.values()), prior_ctr, history))


def refreshed(
    db: Database,
    current: Snapshot,
    since: datetime,
    prior_ctr: float,
    history: CtrHistory | None = None,
) -> Snapshot | None:
    """A new snapshot if a servable ad group changed after ``since``; else None."""
    with db.read() as session:
        touched = _touched_ad_groups(session, since)
        fresh = load_ad_groups(session, touched) if touched else {}
    changed = {i for i in touched if fresh.get(i) != current.ad_groups.get(i)}
    if not changed:
        return None
    ad_groups = dict(current.ad_groups)
    for ad_group_id in changed:
        if ad_group_id in fresh:
            ad_groups[ad_group_id] = fresh[ad_group_id]
        else:
            ad_groups.pop(ad_group_id, None)
    return Snapshot(ad_groups, Market(list(ad_groups.values()), prior_ctr, history))


class SnapshotHolder:
    """Holds the current snapshot and refreshes it from a daemon thread.

    Each worker process has its own; the thread starts on first use, after gunicorn forks.
    A failed refresh keeps the last good snapshot and is logged.
    """

    def __init__(
        self,
        db: Database,
        refresh_seconds: float,
        prior_ctr: float,
        history: Callable[[], CtrHistory] | None = None,
    ) -> None:
        """``history`` gives the current click-through history (see HistoryHolder): the
        market's first-stage order follows it, rebuilt here when it was reloaded."""
        self._db = db
        self._refresh_seconds = refresh_seconds
        self._prior_ctr = prior_ctr
        self._history = history or (lambda: None)
        self._snapshot: Snapshot | None = None
        self._looked_at: datetime | None = None  # when the last read began
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def current(self) -> Snapshot:
        if self._snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    self._looked_at = datetime.now(UTC)
                    self._snapshot = _with_live_masks(
                        build(self._db, self._prior_ctr, self._history())
                    )
                    heap.settle()
                    self._start_refresher()
        return self._snapshot

    def refresh(self) -> bool:
        """Swap in a new snapshot if a servable ad group changed, or the history its
        first stage is ordered by was reloaded; True when one was."""
        current = self.current()
        history = self._history()
        with self._lock:
            started = datetime.now(UTC)
            new = refreshed(
                self._db, current, self._looked_at - LOOK_BACK, self._prior_ctr, history
            )
            self._looked_at = started
            if new is None and history is not current.market.history:
                new = Snapshot(
                    current.ad_groups,
                    Market(list(current.ad_groups.values()), self._prior_ctr, history),
                )
            if new is None:
                return False
            self._snapshot = _with_live_masks(new)
        heap.settle()
        return True

    def _start_refresher(self) -> None:
        self._thread = poll_forever("snapshot-refresh", self._refresh_seconds, self._refresh_logged)

    def _refresh_logged(self) -> None:
        if self.refresh():
            log.info("ad group snapshot refreshed: %d servable", len(self._snapshot.ad_groups))
        else:
            _with_live_masks(self._snapshot)  # the next minute's, once it is near


def _with_live_masks(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with its market's live ad groups worked out for this minute, and for the
    next when it begins within ``LIVE_MASK_LEAD``: off the request path."""
    now = datetime.now(UTC)
    snapshot.market.live_mask(now)
    snapshot.market.live_mask(now + LIVE_MASK_LEAD)
    return snapshot

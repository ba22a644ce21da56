"""What the database has recorded of each ad group's and campaign's spend: where the spend
counters that budgets and pacing read start from, and what in-process counters catch up with.

The events path adds each accepted charge to the counters after committing it. Kept in
process (the embedded default) the counters start empty with every worker and then see only
that worker's charges; in Redis they are empty after a flush or on a first deployment.
Either way a budget already spent would serve, and charge, again. So a serving process
raises each counter to what the database has recorded before it serves (``catch_up``): each
ad group's and campaign's spend on the advertiser's local day, and the lifetime spend of
those with a lifetime budget. A worker with in-process counters catches up again every
``spend_refresh_seconds`` (less often where a catch-up is slow: ``PeriodicCatchUp``), so
the other workers' charges stop a budget within about that long. Raising, never lowering:
a counter already ahead keeps its count. A catch-up holds the counters' ``charging`` lock,
which the events path holds from its commit until its charges are added, so it never reads
a charge that ``add`` then counts a second time. Redis counters catch up only when a
process starts: there one process could read a charge that another has committed and not
yet added.

Spend is recorded per UTC hour (``delivery_hourly``). Where the advertiser's local midnight
falls inside an hour (time zones 30 or 45 minutes off the hour), that hour's spend counts
towards the new day in full: a budget may stop early by that much, never overspend.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from adsmanager.db.base import UTCDateTime
from adsmanager.db.database import Database
from adsmanager.db.delivery import DeliveryHour, delivery_hour
from adsmanager.db.models import AdGroup, Advertiser, Campaign
from adsmanager.serving.counters import CounterKey, Counters
from adsmanager.serving.snapshot import LOOK_BACK as CHANGE_LOOK_BACK
from adsmanager.vocabulary import BudgetMode

# The hours that can hold part of any time zone's "today" (UTC-12 to UTC+14), and one more.
LOOK_BACK = timedelta(hours=40)
# How long after an hour ends its delivery rows no longer change (see RecordedSpend).
SETTLED_AFTER = timedelta(minutes=5)


def recorded_spend(db: Database, now: datetime) -> dict[CounterKey, int]:
    """Today's spend (in each advertiser's time zone) of every ad group and campaign that
    spent today, and the lifetime spend of those with a lifetime budget."""
    return RecordedSpend(db)(now)


class RecordedSpend:
    """``recorded_spend`` for a process that asks again and again. It keeps the sums of the
    hours that are over (today's, and the lifetime budgets'), so a later call reads only
    the hours since the one before, and the history of the ad groups and campaigns whose
    budget became a lifetime budget. ``benchmarks/spend_catch_up.py``, 10,000 ad groups
    that spent in every hour of 30 days, SQLite: the first call 2.8 s, a later one 0.06 s
    (each call read the whole history before, 9.0 s).

    An hour's rows are over once ``SETTLED_AFTER`` has passed since the hour ended: the
    events path records a charge in the hour it received it, and commits within seconds.
    Whatever else could move a kept sum moves an ``updated_at``: a budget made lifetime
    (its owner's row; its history is then read for the hours kept) or an advertiser's time
    zone (its row; today's sums are then read again, for every advertiser)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Spend in the hours before ``until``: on each advertiser's local day, and lifetime.
        self._daily: dict[CounterKey, int] = {}
        self._lifetime: dict[CounterKey, int] = {}
        self._kept: tuple[datetime, datetime] | None = None  # (until, the last call's now)

    def __call__(self, now: datetime) -> dict[CounterKey, int]:
        until = delivery_hour(now - SETTLED_AFTER)
        with self._db.read() as session:
            zones = session.scalars(select(Advertiser.timezone).distinct()).all()
            today = {zone: _local_day_start(zone, now) for zone in zones}
            if self._kept is None or now < self._kept[1]:  # the first call, or the clock went back
                daily = _daily(session, now, today, before=until)
                lifetime = _lifetime(session, before=until)
            else:
                # Built anew and kept only once every read has succeeded: a failed call
                # must not leave hours added that the next call adds again.
                daily, lifetime = dict(self._daily), dict(self._lifetime)
                kept_until, asked_at = self._kept
                # updated_at is stamped before the commit, as the snapshot's refresher
                # allows for.
                changed = asked_at - CHANGE_LOOK_BACK
                if session.scalar(select(func.count()).where(Advertiser.updated_at > changed)):
                    daily = _daily(session, now, today, before=until)
                elif until > kept_until:
                    _add(daily, _daily(session, now, today, since=kept_until, before=until))
                lifetime.update(_lifetime(session, before=kept_until, changed=changed))
                if until > kept_until:
                    _add(lifetime, _lifetime(session, since=kept_until, before=until))
            days = {day for day, _ in today.values()}
            # Only the days that are today in some time zone are kept. An ad group whose own
            # day is already over may keep one until then: raising that day's counter again
            # changes nothing.
            daily = {key: micros for key, micros in daily.items() if key[2] in days}
            totals = {**daily, **lifetime}
            _add(totals, _daily(session, now, today, since=until))
            _add(totals, _lifetime(session, since=until))
        self._daily, self._lifetime, self._kept = daily, lifetime, (until, now)
        return totals


def _add(totals: dict[CounterKey, int], more: dict[CounterKey, int]) -> None:
    for key, micros in more.items():
        totals[key] = totals.get(key, 0) + micros


def _daily(
    session: Session,
    now: datetime,
    today: dict[str, tuple[date, datetime]],
    *,
    since: datetime | None = None,
    before: datetime | None = None,
) -> dict[CounterKey, int]:
    """Each ad group's and campaign's spend on its advertiser's local day at ``now`` (from
    ``today``: each time zone's date and the UTC moment it began), in the hours from
    ``since`` to before ``before`` (either end open)."""
    totals: dict[CounterKey, int] = {}
    if not today:
        return totals
    # Per time zone, the first hour to read: the one that holds local midnight (it counts
    # towards the new day in full), or ``since`` if that is later. The rows are searched
    # once, from the earliest of them: joined to a list of the zones, SQLite searched the
    # hour index once per zone (0.18 s a call for 10,000 ad groups in nine zones).
    start = max(now - LOOK_BACK, since or now - LOOK_BACK)
    firsts = {zone: max(delivery_hour(midnight), start) for zone, (_, midnight) in today.items()}
    first_of_zone = case(
        {zone: literal(first, UTCDateTime()) for zone, first in firsts.items()},
        value=Advertiser.timezone,
    )
    # Summed in the database to a row per ad group. A row per ad group and hour cost 1.6 s
    # of Python for 10,000 ad groups that spent in each of the last 40 hours.
    daily = (
        select(
            DeliveryHour.ad_group_id,
            DeliveryHour.campaign_id,
            Advertiser.timezone,
            func.sum(DeliveryHour.spend_micros),
        )
        .join(Advertiser, Advertiser.id == DeliveryHour.advertiser_id)
        .where(
            DeliveryHour.hour >= min(firsts.values()),
            DeliveryHour.hour >= first_of_zone,
            DeliveryHour.spend_micros > 0,
        )
        .group_by(DeliveryHour.ad_group_id, DeliveryHour.campaign_id, Advertiser.timezone)
    )
    if before is not None:
        daily = daily.where(DeliveryHour.hour < before)
    for ad_group_id, campaign_id, zone, micros in session.execute(daily):
        day = today[zone][0]
        for key in (("adg", ad_group_id, day), ("cmp", campaign_id, day)):
            totals[key] = totals.get(key, 0) + int(micros)
    return totals


def _lifetime(
    session: Session,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
    changed: datetime | None = None,
) -> dict[CounterKey, int]:
    """The spend in the hours from ``since`` to before ``before`` (either end open) of each
    ad group and campaign with a lifetime budget (changed after ``changed``, if given)."""
    totals: dict[CounterKey, int] = {}
    for level, owner_column, owner in (
        ("adg", DeliveryHour.ad_group_id, AdGroup),
        ("cmp", DeliveryHour.campaign_id, Campaign),
    ):
        owners = select(owner.id).where(owner.budget_mode == BudgetMode.LIFETIME)
        if changed is not None:
            owners = owners.where(owner.updated_at > changed)
        spent = select(owner_column, func.sum(DeliveryHour.spend_micros)).where(
            owner_column.in_(owners)
        )
        if since is not None:
            spent = spent.where(DeliveryHour.hour >= since)
        if before is not None:
            spent = spent.where(DeliveryHour.hour < before)
        for owner_id, micros in session.execute(spent.group_by(owner_column)):
            if micros:
                totals[(level, owner_id, None)] = int(micros)
    return totals


def catch_up(spend: RecordedSpend, counters: Counters, now: datetime | None = None) -> None:
    """Raise ``counters`` to the spend recorded at ``now`` (default: the clock)."""
    with counters.charging():
        counters.raise_spend(spend(now or datetime.now(UTC)))


class PeriodicCatchUp:
    """``catch_up`` as a background step: at most every ``every`` seconds, and taking at
    most ``share`` of the worker's time.

    A catch-up reads every hour of spend that can hold an advertiser's today, so its cost
    grows with the ad groups that spend. After one that took ``t`` seconds, the steps in the
    next ``max(every, t / share)`` seconds do nothing.
    """

    def __init__(
        self,
        spend: RecordedSpend,
        counters: Counters,
        every: float,
        share: float = 0.01,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._spend, self._counters, self._every, self._share = spend, counters, every, share
        self._clock = clock
        self._next = clock() + every  # the serving process caught up as it started

    def __call__(self) -> None:
        started = self._clock()
        if started < self._next:
            return
        catch_up(self._spend, self._counters)
        took = self._clock() - started
        self._next = started + max(self._every, took / self._share)


def _local_day_start(zone: str, now: datetime) -> tuple[date, datetime]:
    """The advertiser's local date at ``now`` (as the events path keys daily spend), and the
    UTC moment it began."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    return today, datetime.combine(today, time(), tzinfo=tz).astimezone(UTC)

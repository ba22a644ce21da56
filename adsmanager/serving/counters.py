"""Counters that budgets, pacing and frequency caps read on every auction and that charged
events add to: in Redis when ``ADSMANAGER_REDIS_URL`` is set (shared by every worker and
host), else in this process (the embedded default, one worker's view).

Spend is kept per ad group and per campaign, per local day of the advertiser and in total.
Frequency keeps the times of each user's impressions per ad group, so any window is exact.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple, Protocol


@dataclass(frozen=True, slots=True)
class SpendKey:
    ad_group_id: str
    campaign_id: str
    day: date  # the advertiser's local day


# A spend total: ("adg" or "cmp", the ad group's or campaign's id, the advertiser's local
# day, or None for the lifetime total).
CounterKey = tuple[str, str, date | None]


@dataclass(frozen=True, slots=True)
class Charge:
    """What one accepted event adds: spend, and (for impressions) one view for the caps."""

    key: SpendKey
    micros: int
    at: datetime
    # (user id, impression id) for impressions, which count towards frequency caps.
    impression: tuple[str, str] | None = None
    # Whose balance it comes out of: the auction stops an advertiser between two reads of
    # the ledger as soon as these add up to what was left.
    advertiser_id: str | None = None


def _total_name(level: str, owner_id: str, day: str | None) -> str:
    """The Redis key of a CounterKey's total; ``day`` in ISO format, None for lifetime."""
    return f"spend:{level}:{owner_id}" if day is None else f"spend:{level}:{owner_id}:{day}"


def _spend_names(ad_group_id: str, campaign_id: str, day: str) -> tuple[str, str, str, str]:
    """The Redis keys of a SpendKey's four totals; ``day`` in ISO format."""
    return (
        _total_name("adg", ad_group_id, day),
        _total_name("adg", ad_group_id, None),
        _total_name("cmp", campaign_id, day),
        _total_name("cmp", campaign_id, None),
    )


def _spend_slots(key: SpendKey) -> tuple[CounterKey, CounterKey, CounterKey, CounterKey]:
    """The in-process counters' keys of a SpendKey's four totals."""
    return (
        ("adg", key.ad_group_id, key.day),
        ("adg", key.ad_group_id, None),
        ("cmp", key.campaign_id, key.day),
        ("cmp", key.campaign_id, None),
    )


def _advertiser_name(advertiser_id: str) -> str:
    return f"spend:adv:{advertiser_id}"


def _frequency_name(ad_group_id: str, user_id: str) -> str:
    return f"freq:{ad_group_id}:{user_id}"


# The longest frequency window an ad group may have (720 h), in seconds.
LONGEST_WINDOW_SECONDS = 720 * 3600


class Readings(NamedTuple):
    totals: list[int]  # per CounterKey
    seen: list[int]  # the viewer's impressions per (ad group id, window in hours)
    spent: list[int]  # per advertiser id


class Counters(Protocol):
    def read(
        self,
        totals: Sequence[CounterKey],
        user_id: str,
        windows: Sequence[tuple[str, int]],
        advertiser_ids: Sequence[str],
        now: datetime,
    ) -> Readings:
        """All the auction reads for a chunk of candidates, at once: each spend total; how
        many impressions ``user_id`` had of each (ad group id, window in hours) since
        ``now`` less the window; each advertiser's spend."""
        ...

    def add(self, charges: Iterable[Charge]) -> None: ...

    def raise_spend(self, totals: Mapping[CounterKey, int]) -> None:
        """Raise each spend total to at least what ``totals`` says; never lower one (see
        ``recorded_spend``)."""
        ...

    def advertiser_spend(self, advertiser_ids: Sequence[str]) -> list[int]: ...

    def charging(self) -> AbstractContextManager[object]:
        """Held by the events path from before it commits charges until it has added them,
        and by a catch-up with the recorded spend: a catch-up then never reads a charge
        from the database that ``add`` will count again."""
        ...


class InProcessCounters:
    """One worker's counters: they see the charges this worker takes. The others' reach
    them through the database (``recorded_spend.catch_up``, every few seconds)."""

    def __init__(self) -> None:
        self._spend: dict[CounterKey | str, int] = defaultdict(int)
        self._views: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        self._charging = threading.Lock()

    def charging(self) -> AbstractContextManager[object]:
        return self._charging

    def read(self, totals, user_id, windows, advertiser_ids, now) -> Readings:
        get = self._spend.get
        return Readings(
            [get(key, 0) for key in totals],
            self._impressions_in_window(user_id, windows, now),
            self.advertiser_spend(advertiser_ids),
        )

    def _impressions_in_window(self, user_id, windows, now) -> list[int]:
        now_seconds = now.timestamp()
        counts = []
        for ad_group_id, hours in windows:
            since = now_seconds - hours * 3600
            views = self._views.get(_frequency_name(ad_group_id, user_id), ())
            counts.append(sum(1 for at in views if at > since))
        return counts

    def advertiser_spend(self, advertiser_ids: Sequence[str]) -> list[int]:
        values = self._spend
        return [values.get(_advertiser_name(advertiser_id), 0) for advertiser_id in advertiser_ids]

    def raise_spend(self, totals: Mapping[CounterKey, int]) -> None:
        spend = self._spend
        with self._lock:
            for key, micros in totals.items():
                if spend.get(key, 0) < micros:
                    spend[key] = micros

    def add(self, charges: Iterable[Charge]) -> None:
        with self._lock:
            for charge in charges:
                for slot in _spend_slots(charge.key):
                    self._spend[slot] += charge.micros
                if charge.advertiser_id and charge.micros:
                    self._spend[_advertiser_name(charge.advertiser_id)] += charge.micros
                if charge.impression is not None:
                    views = self._views[
                        _frequency_name(charge.key.ad_group_id, charge.impression[0])
                    ]
                    views.append(charge.at.timestamp())
                    oldest = charge.at.timestamp() - LONGEST_WINDOW_SECONDS
                    views[:] = [at for at in views if at > oldest]


# Each key's views after its window's start (ARGV, exclusive), in one command: a ZCOUNT per
# capped candidate would be a command each for the worker to pack and parse.
_COUNT_VIEWS = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('ZCOUNT', key, ARGV[i], '+inf')
end
return counts
"""


# Each key raised to its ARGV value (an integer, as text) unless already above it, with a
# time to live in seconds (0: none) when raised; SET clears any earlier one.
_RAISE_TO = """
for i, key in ipairs(KEYS) do
  local micros = ARGV[2 * i - 1]
  if tonumber(redis.call('GET', key) or '0') < tonumber(micros) then
    redis.call('SET', key, micros)
    if ARGV[2 * i] ~= '0' then
      redis.call('EXPIRE', key, ARGV[2 * i])
    end
  end
end
return 0
"""


class RedisCounters:
    # Daily spend keys outlive their day by a margin (time zones, late events).
    DAY_TTL_SECONDS = 3 * 86_400

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=1)

    def charging(self) -> AbstractContextManager[object]:
        # Every worker adds its charges here, so none catches up from the database while
        # serving (``recorded_spend.catch_up``), and no lock in one process could cover the
        # others' charges.
        return nullcontext()

    def read(self, totals, user_id, windows, advertiser_ids, now) -> Readings:
        # One round trip for the lot: the auction waits for it.
        pipe = self._redis.pipeline(transaction=False)
        if totals:
            pipe.mget(_total_names(totals))
        if windows:
            now_seconds = now.timestamp()
            pipe.eval(
                _COUNT_VIEWS,
                len(windows),
                *(_frequency_name(ad_group_id, user_id) for ad_group_id, _ in windows),
                *(f"({now_seconds - hours * 3600}" for _, hours in windows),
            )
        if advertiser_ids:
            pipe.mget([_advertiser_name(advertiser_id) for advertiser_id in advertiser_ids])
        replies = pipe.execute()
        spent = [int(value or 0) for value in replies.pop()] if advertiser_ids else []
        seen = [int(count) for count in replies.pop()] if windows else []
        values = [int(value or 0) for value in replies.pop()] if totals else []
        return Readings(values, seen, spent)

    def advertiser_spend(self, advertiser_ids: Sequence[str]) -> list[int]:
        if not advertiser_ids:
            return []
        names = [_advertiser_name(advertiser_id) for advertiser_id in advertiser_ids]
        return [int(value or 0) for value in self._redis.mget(names)]

    def raise_spend(self, totals: Mapping[CounterKey, int]) -> None:
        items = list(totals.items())
        for start in range(0, len(items), 1000):  # a script call of bounded size
            batch = items[start : start + 1000]
            names = _total_names([key for key, _ in batch])
            arguments = []
            for (_, _, day), micros in batch:
                arguments += [str(int(micros)), "0" if day is None else str(self.DAY_TTL_SECONDS)]
            self._redis.eval(_RAISE_TO, len(names), *names, *arguments)

    def add(self, charges: Iterable[Charge]) -> None:
        # Summed per key first: a batch of 500 events touches far fewer keys than it has
        # events, and each command costs the worker more to pack than Redis to run.
        increments: dict[str, int] = defaultdict(int)
        expiring: set[str] = set()
        views: dict[str, dict[str, float]] = defaultdict(dict)
        for charge in charges:
            key = charge.key
            daily, lifetime, campaign_daily, campaign_lifetime = _spend_names(
                key.ad_group_id, key.campaign_id, key.day.isoformat()
            )
            if charge.micros:
                for name in (daily, lifetime, campaign_daily, campaign_lifetime):
                    increments[name] += charge.micros
                expiring.update((daily, campaign_daily))
                if charge.advertiser_id:
                    increments[_advertiser_name(charge.advertiser_id)] += charge.micros
            if charge.impression is not None:
                user_id, impression_id = charge.impression
                name = _frequency_name(key.ad_group_id, user_id)
                views[name][impression_id] = charge.at.timestamp()
        # MULTI/EXEC: a connection lost midway applies none of the batch, not part of it.
        pipe = self._redis.pipeline(transaction=True)
        for name, micros in increments.items():
            pipe.incrby(name, micros)
        for name in expiring:
            pipe.expire(name, self.DAY_TTL_SECONDS)
        for name, seen in views.items():
            pipe.zadd(name, seen)
            pipe.zremrangebyscore(name, "-inf", max(seen.values()) - LONGEST_WINDOW_SECONDS)
            pipe.expire(name, LONGEST_WINDOW_SECONDS)
        pipe.execute()


def _total_names(totals: Iterable[CounterKey]) -> list[str]:
    days: dict[date, str] = {}  # a few zones, a few days: each written out once
    names = []
    for level, owner_id, day in totals:
        if day is not None and day not in days:
            days[day] = day.isoformat()
        names.append(_total_name(level, owner_id, None if day is None else days[day]))
    return names


def make_counters(redis_url: str | None) -> Counters:
    return RedisCounters(redis_url) if redis_url else InProcessCounters()

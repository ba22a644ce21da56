"""The ad groups of one snapshot, arranged for fast auctions.

They are kept in first-stage order — best prior eCPM first — so a lookup yields candidates
already ranked and the engine can stop as soon as it has enough. Which of them are live
(in flight, inside their daypart) changes only with the clock, so it is worked out once a
minute as a bitset that every lookup of that minute ANDs in (a prefilter: the engine checks
each candidate it takes against the exact time).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from auction.eligibility import in_daypart
from auction.targeting import TargetingIndex
from auction.types import CPC, AdGroup, User


def prior_ecpm(ad_group: AdGroup, prior_ctr: float) -> float:
    """What the first stage ranks by before any model has looked: the bid, with CPC bids
    valued at a prior click-through rate."""
    if ad_group.billing_event == CPC:
        return ad_group.bid_micros * prior_ctr * 1000
    return float(ad_group.bid_micros)


class Market:
    def __init__(self, ad_groups: Sequence[AdGroup], prior_ctr: float) -> None:
        ordered = sorted(ad_groups, key=lambda g: (-prior_ecpm(g, prior_ctr), g.ad_group_id))
        self.ad_groups: tuple[AdGroup, ...] = tuple(ordered)
        self.index = TargetingIndex(self.ad_groups)
        self._live: tuple[int, int] | None = None  # (minute, bitset)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ad_groups)

    def live_mask(self, now: datetime) -> int:
        """The ad groups whose flight overlaps ``now``'s minute and whose daypart includes
        it: a cheap prefilter; the engine still checks each candidate at the exact time."""
        minute = int(now.timestamp()) // 60
        cached = self._live
        if cached is not None and cached[0] == minute:
            return cached[1]
        with self._lock:
            start = datetime.fromtimestamp(minute * 60, tz=UTC)
            end = start + timedelta(minutes=1)

            def live(g: AdGroup) -> bool:
                flying = g.campaign_start < end and (
                    g.campaign_end is None or g.campaign_end > start
                )
                return flying and in_daypart(g, start)

            mask = self.index.mask(live)
            self._live = (minute, mask)
        return mask

    def candidates(self, user: User, now: datetime) -> Iterator[AdGroup]:
        """Live ad groups that want ``user``, best prior eCPM first."""
        return self.index.iter_candidates(user, within=self.live_mask(now))

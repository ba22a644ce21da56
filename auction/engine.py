"""One auction, start to finish: targeting, eligibility, a cheap first stage, pCTR, GSP
pricing, and insertion into the organic feed. Pure: what it needs from the world (spend,
frequency, balances) comes through a ``State``; what it decides comes back as data."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Protocol

from auction.ctr import CtrPredictor
from auction.eligibility import BELOW_RESERVE, LocalClock, eligible_on_clock, local_clock
from auction.exploration import is_exploration_page, run_with_exploration
from auction.history import EMPTY_HISTORY, CtrHistory
from auction.insertion import blend, slots_for
from auction.market import Market
from auction.pricing import Slot, ecpm_micros, run_auction
from auction.types import (
    CPM,
    Ad,
    AdGroup,
    AdLoadPolicy,
    Bid,
    FeedItem,
    Placement,
    ReservePrices,
    Spend,
    User,
)


@dataclass(frozen=True, slots=True)
class ChunkCounts:
    """What the shared counters say of a chunk of candidates."""

    spends: list[Spend]  # one per ad group, in order
    seen: dict[str, int]  # the viewer's impressions in its cap's window, per capped ad group
    balances: dict[str, int | None]  # what each advertiser can still spend; None: no limit


class State(Protocol):
    """Shared counters, read once per chunk of candidates: one call, so counters kept in
    another process (Redis) answer in one round trip."""

    def read(self, user_id: str, ad_groups: Sequence[AdGroup], now: datetime) -> ChunkCounts: ...


# On an exploration page, how many candidates to look through for new ad groups, and how
# many eligible ones to score.
EXPLORATION_SCAN = 5_000
EXPLORATION_POOL = 5


@dataclass(frozen=True)
class AuctionConfig:
    reserves: ReservePrices
    ad_load: AdLoadPolicy = AdLoadPolicy()
    # How many eligible candidates the model scores; the rest are cut by a prior eCPM.
    first_stage_size: int = 50
    # At most this many of them from one advertiser: only one can win, and prices come from
    # the competition between advertisers, so the stage is spent on variety.
    per_advertiser: int = 3
    # The pCTR the first stage assumes for CPC bids with no click-through history (Market).
    prior_ctr: float = 0.02
    # Share of pages whose last ad slot explores a new ad group (auction/exploration.py).
    exploration_share: float = 0.05
    # Below this many impressions an ad group is new (its own history weighs less than its
    # advertiser's until about auction.history.SHRINKAGE_IMPRESSIONS).
    new_ad_impressions: int = 200

    def __post_init__(self) -> None:
        if not 0 <= self.exploration_share <= 1:
            raise ValueError(f"exploration_share must be in [0, 1], got {self.exploration_share}")


@dataclass(frozen=True)
class Request:
    request_id: str
    user: User
    feed: tuple[FeedItem, ...]
    now: datetime
    ad_load: AdLoadPolicy | None = None


@dataclass(frozen=True)
class Winner:
    placement: Placement
    ad_group: AdGroup
    ad: Ad


@dataclass(frozen=True)
class Outcome:
    items: list[FeedItem | Winner]
    winners: list[Winner]
    model_version: str
    # Every scored candidate's bid (with its pCTR in the first slot), in scoring order.
    bids: list[Bid] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    # The ad group given the exploration slot, if this page explored.
    explored: str | None = None
    # The page's slots, and the scored ad groups in the order of ``candidates``: what a
    # replay of this auction needs besides the feature vectors.
    slots: list[Slot] = field(default_factory=list)
    scored: list[AdGroup] = field(default_factory=list)

    @cached_property
    def candidates(self) -> list[dict]:
        """Every scored candidate with its bid, pCTR, eCPM and price (0 if it lost): for
        audit. Built on demand: only a sample of auctions is logged with them."""
        prices = {w.placement.bid.ad_group_id: w.placement.price_micros for w in self.winners}
        return [
            {
                "ad_group_id": bid.ad_group_id,
                "advertiser_id": bid.advertiser_id,
                "billing_event": bid.billing_event,
                "bid_micros": bid.bid_micros,
                "pctr": bid.pctr,
                "ecpm_micros": ecpm_micros(bid),
                "price_micros": prices.get(bid.ad_group_id, 0),
                "tie_breaker": bid.tie_breaker,
                "excluded_creators": sorted(bid.excluded_creators),
                "excluded_categories": sorted(bid.excluded_categories),
            }
            for bid in self.bids
        ]


def _tie_breaker(request_id: str, ad_group_id: str) -> int:
    digest = hashlib.blake2b(f"{request_id}:{ad_group_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _tie_breakers(request_id: str) -> Callable[[str], int]:
    """``_tie_breaker`` for one request and many ad groups: the request's part is hashed
    once and each ad group continues from a copy of that state (same digest)."""
    prefix = hashlib.blake2b(f"{request_id}:".encode(), digest_size=8)

    def tie_breaker(ad_group_id: str) -> int:
        hasher = prefix.copy()
        hasher.update(ad_group_id.encode())
        return int.from_bytes(hasher.digest(), "big")

    return tie_breaker


def _servable(
    candidates: Iterator[AdGroup], reserves: ReservePrices, skipped: dict[str, int]
) -> Iterator[AdGroup]:
    """The candidates whose bid reaches their billing event's reserve. A bid below it can
    never serve (a price is never above the bid nor below the reserve), so it must not take
    a seat in the first stage that a bid able to serve would have had."""
    cpm, cpc = reserves.cpm_micros, reserves.cpc_micros
    for ad_group in candidates:
        if ad_group.bid_micros >= (cpm if ad_group.billing_event == CPM else cpc):
            yield ad_group
        else:
            skipped[BELOW_RESERVE] = skipped.get(BELOW_RESERVE, 0) + 1


def _eligible_candidates(
    request: Request,
    candidates: Iterator[AdGroup],
    state: State,
    skipped: dict[str, int],
    *,
    size: int,
    per_advertiser: int,
) -> list[AdGroup]:
    """Take ``candidates`` (live and targeted, in prior-eCPM order) a chunk at a time, check
    each chunk against the counters, and stop once ``size`` are eligible."""
    now = request.now
    chosen: list[AdGroup] = []
    taken: dict[str, int] = {}
    clocks: dict[str, LocalClock] = {}  # many candidates share a time zone
    while len(chosen) < size:
        chunk = list(itertools.islice(candidates, size))
        if not chunk:
            break
        counts = state.read(request.user.id, chunk, now)
        seen, balances = counts.seen, counts.balances
        for ad_group, spend in zip(chunk, counts.spends, strict=True):
            if taken.get(ad_group.advertiser_id, 0) >= per_advertiser:
                continue
            clock = clocks.get(ad_group.timezone)
            if clock is None:
                clock = clocks[ad_group.timezone] = local_clock(ad_group, now)
            reason = eligible_on_clock(
                ad_group,
                now,
                spend,
                seen.get(ad_group.ad_group_id, 0),
                balances.get(ad_group.advertiser_id),
                clock,
            )
            if reason is None:
                chosen.append(ad_group)
                taken[ad_group.advertiser_id] = taken.get(ad_group.advertiser_id, 0) + 1
            else:
                skipped[reason] = skipped.get(reason, 0) + 1
    return chosen[:size]


def _newcomers(
    request: Request,
    market: Market,
    state: State,
    config: AuctionConfig,
    history: CtrHistory,
    skipped: dict[str, int],
) -> list[AdGroup]:
    """On an exploration page, a few eligible new ad groups from anywhere in the prior order
    (a new ad group with a modest bid is rarely in the first stage), scanning a bounded
    number of candidates."""
    scanned = itertools.islice(market.candidates(request.user, request.now), EXPLORATION_SCAN)
    new = (
        g
        for g in _servable(scanned, config.reserves, skipped)
        if history.impressions_of(g.ad_group_id) < config.new_ad_impressions
    )
    return _eligible_candidates(
        request, new, state, skipped, size=EXPLORATION_POOL, per_advertiser=1
    )


def run(
    request: Request,
    market: Market,
    predictor: CtrPredictor,
    state: State,
    config: AuctionConfig,
    history: CtrHistory = EMPTY_HISTORY,
) -> Outcome:
    """``history`` holds the click-through counts the model's history features read."""
    policy = request.ad_load or config.ad_load
    slots = slots_for(request.feed, policy)
    skipped: dict[str, int] = {}
    if not slots:
        return Outcome(list(request.feed), [], predictor.version, [], skipped)
    chosen = _eligible_candidates(
        request,
        _servable(market.candidates(request.user, request.now), config.reserves, skipped),
        state,
        skipped,
        size=config.first_stage_size,
        per_advertiser=config.per_advertiser,
    )
    exploring = is_exploration_page(request.request_id, config.exploration_share)
    first_stage = len(chosen)
    if exploring:
        known = {g.ad_group_id for g in chosen}
        chosen += [
            g
            for g in _newcomers(request, market, state, config, history, skipped)
            if g.ad_group_id not in known
        ]
    if not chosen:
        return Outcome(list(request.feed), [], predictor.version, [], skipped)
    # Every candidate at every slot: clicks fall down the feed, and a slot ranks and prices
    # by the pCTRs it has (a CPM bid's worth does not fall with them, a CPC bid's does).
    slot_pctrs = predictor.predict_slots(
        request.user, chosen, [slot.position for slot in slots], request.now, history
    )

    def pctrs_at(position: int) -> list[float]:
        # Asked by pricing only once a slot has stayed empty: a later slot's ad then sits
        # higher in the feed than its slot's position, and is ranked and priced there.
        return predictor.predict_slots(request.user, chosen, [position], request.now, history)[0]

    by_id = {g.ad_group_id: g for g in chosen}
    tie_breaker = _tie_breakers(request.request_id)
    bids = [
        Bid(
            ad_group_id=g.ad_group_id,
            advertiser_id=g.advertiser_id,
            billing_event=g.billing_event,
            bid_micros=g.bid_micros,
            pctr=pctr,
            excluded_creators=g.targeting.excluded_creators,
            excluded_categories=g.targeting.excluded_categories,
            tie_breaker=tie_breaker(g.ad_group_id),
        )
        for g, pctr in zip(chosen, slot_pctrs[0], strict=True)
    ]
    if exploring:
        placements, explored = run_with_exploration(
            bids,
            slots,
            config.reserves,
            history,
            config.new_ad_impressions,
            slot_pctrs,
            newcomers=len(chosen) - first_stage,
            pctrs_at=pctrs_at,
        )
    else:
        placements = run_auction(bids, slots, config.reserves, slot_pctrs, pctrs_at)
        explored = None
    blended = blend(request.feed, placements)
    winners = []
    items: list[FeedItem | Winner] = []
    for item in blended:
        if isinstance(item, Placement):
            ad_group = by_id[item.bid.ad_group_id]
            ad = ad_group.ads[_tie_breaker(request.request_id, "ad") % len(ad_group.ads)]
            winner = Winner(item, ad_group, ad)
            winners.append(winner)
            items.append(winner)
        else:
            items.append(item)
    return Outcome(
        items,
        winners,
        predictor.version,
        bids,
        skipped,
        explored.ad_group_id if explored else None,
        slots,
        chosen,
    )

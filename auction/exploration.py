"""Exploration: a bounded share of pages gives its last ad slot to a new ad group.

A new ad group has no click history, so the model prices it at its advertiser's (or the
platform's) rate and it may never win enough to earn a history of its own. On an exploration
page (a fixed share of requests, chosen by a hash of the request id, so at most that share of
all ad slots), the other slots are auctioned exactly as without exploration, and the last slot
goes to the eligible candidate with the fewest impressions below ``new_ad_impressions`` among
the advertisers that did not win. It pays its reserve, and what the other winners pay is what
they would have paid anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from auction.history import CtrHistory
from auction.pricing import (
    PctrsAt,
    Slot,
    ecpm_micros,
    is_allowed,
    reserve_micros,
    run_auction,
)
from auction.types import Bid, Placement, ReservePrices


def is_exploration_page(request_id: str, share: float) -> bool:
    digest = hashlib.blake2b(f"{request_id}:explore".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


def bid_to_explore(
    bids: Sequence[Bid],
    slot: Slot,
    history: CtrHistory,
    reserves: ReservePrices,
    new_ad_impressions: int,
) -> Bid | None:
    """The newest eligible bid that may sit in ``slot`` at or above its reserve, if any."""
    new = [
        (history.impressions_of(bid.ad_group_id), -bid.tie_breaker, bid.ad_group_id, bid)
        for bid in bids
        if history.impressions_of(bid.ad_group_id) < new_ad_impressions
        and bid.bid_micros >= reserve_micros(bid, reserves)
        and is_allowed(bid, slot)
    ]
    return min(new)[-1] if new else None


def run_with_exploration(
    bids: Sequence[Bid],
    slots: Sequence[Slot],
    reserves: ReservePrices,
    history: CtrHistory,
    new_ad_impressions: int,
    slot_pctrs: Sequence[Sequence[float]] | None = None,
    newcomers: int = 0,
    pctrs_at: PctrsAt | None = None,
) -> tuple[list[Placement], Bid | None]:
    """The GSP auction over all slots but the last, exactly as without exploration (slots are
    filled in page order, so the last one never affects the others), then the newest
    eligible bid of an advertiser that did not win in the last slot, at its reserve (with
    its pCTR where its ad really sits, from ``slot_pctrs`` and ``pctrs_at`` as in
    ``run_auction``). With no such bid, the plain auction over every slot.

    The last ``newcomers`` bids were found for exploration only (beyond the first stage):
    they may take the explored slot, but neither win nor price any other, so no other
    winner pays what it would not have paid on a page without exploration."""
    bids = list(bids)
    auctioned = bids[: len(bids) - newcomers]
    auctioned_pctrs = (
        [row[: len(auctioned)] for row in slot_pctrs] if slot_pctrs is not None else None
    )
    auctioned_pctrs_at = (
        (lambda position: list(pctrs_at(position))[: len(auctioned)])
        if pctrs_at is not None and newcomers
        else pctrs_at
    )
    placements = run_auction(
        auctioned,
        slots[:-1],
        reserves,
        auctioned_pctrs[:-1] if auctioned_pctrs is not None else None,
        auctioned_pctrs_at,
    )
    winners = {placement.bid.advertiser_id for placement in placements}
    explored = bid_to_explore(
        [bid for bid in bids if bid.advertiser_id not in winners],
        slots[-1],
        history,
        reserves,
        new_ad_impressions,
    )
    if explored is None:
        return run_auction(auctioned, slots, reserves, auctioned_pctrs, auctioned_pctrs_at), None
    empty_before = len(slots) - 1 - len(placements)
    position = slots[-1].position - empty_before
    if slot_pctrs is not None:
        # The last slot's pCTRs, or those of the position its ad moves up to.
        pctrs = slot_pctrs[-1] if not empty_before or pctrs_at is None else pctrs_at(position)
        if len(pctrs) != len(bids):
            raise ValueError(f"{len(bids)} bids but {len(pctrs)} pCTRs")
        explored = replace(explored, pctr=pctrs[bids.index(explored)])
    placements.append(
        Placement(
            bid=explored,
            position=position,
            ecpm_micros=ecpm_micros(explored),
            price_micros=reserve_micros(explored, reserves),
        )
    )
    return placements, explored

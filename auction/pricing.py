"""Ranking by eCPM and generalized second-price (GSP) pricing over the slots of a page.

All money is integer micros. A pCTR is turned into whole parts per billion once, so every
amount derived from it is computed with integers and rounds the same way everywhere.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from auction.types import CPC, CPM, Bid, FeedItem, Placement, ReservePrices

PPB = 1_000_000_000  # parts per billion
IMPRESSIONS_PER_CPM = 1000
BILLING_EVENTS = (CPM, CPC)

# The bids' pCTRs at a feed position, in the order of the bids.
PctrsAt = Callable[[int], Sequence[float]]


@dataclass(frozen=True, slots=True)
class Slot:
    """A place for one ad in a page of the feed.

    ``position`` is its index in the blended feed when every earlier slot holds an ad.
    ``neighbours`` are the organic items next to it (the one before, if any, and the one
    after); brand-safety exclusions are checked against them.
    """

    position: int
    neighbours: tuple[FeedItem, ...]


def pctr_ppb(pctr: float) -> int:
    """The pCTR in whole parts per billion, at least 1."""
    # `not (0 < x <= 1)` also rejects NaN, which fails every comparison.
    if type(pctr) is not float and (isinstance(pctr, bool) or not isinstance(pctr, int | float)):
        raise ValueError(f"pctr must be a number in (0, 1], got {pctr!r}")
    if not (0 < pctr <= 1):
        raise ValueError(f"pctr must be a number in (0, 1], got {pctr!r}")
    return max(1, round(pctr * PPB))


def ecpm_micros(bid: Bid) -> int:
    """What the bid is worth per 1000 impressions, in micros (rounded down)."""
    ppb = _check_bid(bid)
    if bid.billing_event == CPM:
        return bid.bid_micros
    return bid.bid_micros * ppb * IMPRESSIONS_PER_CPM // PPB


def price_micros(bid: Bid, next_ecpm_micros: int, reserves: ReservePrices) -> int:
    """The GSP price in the bid's own unit: the least that still beats ``next_ecpm_micros``,
    never below the bid's reserve nor above the bid itself."""
    reserve = reserve_micros(bid, reserves)
    if bid.bid_micros < reserve:
        raise ValueError(f"bid {bid.ad_group_id} is below its reserve and cannot be priced")
    if not _is_whole(next_ecpm_micros) or next_ecpm_micros < 0:
        raise ValueError(f"next_ecpm_micros must be a non-negative integer: {next_ecpm_micros!r}")
    return _price(bid, next_ecpm_micros, reserve)


def reserve_micros(bid: Bid, reserves: ReservePrices) -> int:
    """The floor for the bid's billing event, in the bid's own unit."""
    _check_bid(bid)
    _check_reserves(reserves)
    return _reserve(bid, reserves)


def _reserve(bid: Bid, reserves: ReservePrices) -> int:
    return reserves.cpm_micros if bid.billing_event == CPM else reserves.cpc_micros


def _price(bid: Bid, next_ecpm_micros: int, reserve: int) -> int:
    return min(max(reserve, _price_to_match(bid, next_ecpm_micros)), bid.bid_micros)


def rank(bids: Iterable[Bid], reserves: ReservePrices) -> list[Bid]:
    """The bids that may serve, best first: those at or above their reserve, and only the
    best-ranked bid of each advertiser."""
    bids = list(bids)
    _check_reserves(reserves)
    return _rank(bids, _ecpms(bids), reserves)


def _ecpms(bids: list[Bid], pctrs: Sequence[float] | None = None) -> dict[str, int]:
    """Each bid's eCPM by ad group, each bid checked once; with ``pctrs``, each bid's eCPM at
    the pCTR of the same index instead of its own.

    ``ecpm_micros`` with its checks written out in one loop: every auction prices 50 or
    more bids, and the four calls per bid cost more than the arithmetic. Bids whose bid is
    not a plain int or whose pCTR is not a plain float (which the engine never makes) go
    through ``ecpm_micros`` itself; a test holds this to it, errors included."""
    _check_unique_ad_groups(bids)
    if pctrs is None:
        pctrs = [bid.pctr for bid in bids]
    elif len(pctrs) != len(bids):
        raise ValueError(f"{len(bids)} bids but {len(pctrs)} pCTRs")
    ecpms = {}
    for bid, pctr in zip(bids, pctrs, strict=True):
        event, micros = bid.billing_event, bid.bid_micros
        if type(micros) is not int or type(pctr) is not float:
            ecpms[bid.ad_group_id] = ecpm_micros(replace(bid, pctr=pctr))
            continue
        if event not in BILLING_EVENTS:
            raise ValueError(f"unknown billing event {event!r} for {bid.ad_group_id}")
        if micros <= 0:
            raise ValueError(f"bid_micros must be a positive integer for {bid.ad_group_id}")
        if not (0 < pctr <= 1):  # as pctr_ppb; also rejects NaN
            raise ValueError(f"pctr must be a number in (0, 1], got {pctr!r}")
        if event == CPM:
            ecpms[bid.ad_group_id] = micros
        else:
            ppb = max(1, round(pctr * PPB))
            ecpms[bid.ad_group_id] = micros * ppb * IMPRESSIONS_PER_CPM // PPB
    return ecpms


def _ecpms_at(bids: list[Bid], pctrs: Sequence[float]) -> dict[str, int]:
    """``_ecpms(bids, pctrs)`` for bids ``_ecpms`` has checked already: one slot of many, so
    only the pCTRs are checked (anything unusual takes ``_ecpms``, which says what is wrong)."""
    if len(pctrs) != len(bids) or not all(type(p) is float and 0.0 < p <= 1.0 for p in pctrs):
        return _ecpms(bids, pctrs)
    return {
        bid.ad_group_id: bid.bid_micros
        if bid.billing_event == CPM
        else bid.bid_micros * (round(pctr * PPB) or 1) * IMPRESSIONS_PER_CPM // PPB
        for bid, pctr in zip(bids, pctrs, strict=True)
    }


def _rank(bids: list[Bid], ecpms: dict[str, int], reserves: ReservePrices) -> list[Bid]:
    return _best_per_advertiser(_ranked(bids, ecpms, reserves))


def _ranked(bids: list[Bid], ecpms: dict[str, int], reserves: ReservePrices) -> list[Bid]:
    """Every bid at or above its reserve, best first (an advertiser's several bids too)."""
    eligible = [bid for bid in bids if bid.bid_micros >= _reserve(bid, reserves)]
    eligible.sort(key=lambda bid: (-ecpms[bid.ad_group_id], -bid.tie_breaker, bid.ad_group_id))
    return eligible


def run_auction(
    bids: Iterable[Bid],
    slots: Sequence[Slot],
    reserves: ReservePrices,
    slot_pctrs: Sequence[Sequence[float]] | None = None,
    pctrs_at: PctrsAt | None = None,
) -> list[Placement]:
    """Fill the slots in page order, each with the best remaining bid allowed there, priced
    by the best other remaining bid allowed in that slot.

    ``slot_pctrs[k][i]``, when given, is bid ``i``'s pCTR in slot ``k``: clicks fall down a
    feed, so each slot ranks and prices the bids by the pCTRs they have there, and its
    winner's ``Placement.bid`` carries that pCTR. Without it, each bid's own pCTR holds in
    every slot.

    A slot nobody may take stays empty and later slots are still filled. Because an empty
    slot puts no ad in the feed, each placement's ``position`` is its slot's position less
    the number of earlier slots left empty: the real index in the blended feed, so the ad
    still sits before the organic item it was priced next to. Such a slot is ranked and
    priced (and its winner's pCTR given) at that real position: ``pctrs_at(position)[i]``
    is bid ``i``'s pCTR there. It is asked only once a slot has been left empty, so a page
    whose slots all fill costs nothing more. Without it, ``slot_pctrs`` hold for every
    slot wherever its ad ends up.
    """
    _check_slot_order(slots)
    _check_reserves(reserves)
    bids = list(bids)
    if slot_pctrs is None:
        if pctrs_at is not None:
            raise ValueError("pctrs_at needs slot_pctrs: the pCTRs of the slots themselves")
        ecpms = _ecpms(bids)
        rankings = [(ecpms, _ranked(bids, ecpms, reserves), None)] * len(slots)
    else:
        rankings = _slot_rankings(bids, slots, reserves, slot_pctrs)
    placements: list[Placement] = []
    placed: set[str] = set()  # advertisers with an ad on the page
    empty_slots = 0
    for number, (slot, ranking) in enumerate(zip(slots, rankings, strict=True)):
        if empty_slots and pctrs_at is not None:
            at_position = pctrs_at(slot.position - empty_slots)
            ranking = _ranking_at(bids, reserves, at_position, slot_pctrs[number], ranking)
        ecpms, ranked, pctr_of = ranking
        # Only the best two allowed bids matter: the winner and the one that prices it.
        allowed = list(itertools.islice(_contenders(ranked, placed, slot), 2))
        if not allowed:
            empty_slots += 1
            continue
        winner = allowed[0]
        if pctr_of is not None:
            winner = replace(winner, pctr=pctr_of[winner.ad_group_id])
        runner_up_ecpm = ecpms[allowed[1].ad_group_id] if len(allowed) > 1 else 0
        placements.append(
            Placement(
                bid=winner,
                position=slot.position - empty_slots,
                ecpm_micros=ecpms[winner.ad_group_id],
                price_micros=_price(winner, runner_up_ecpm, _reserve(winner, reserves)),
            )
        )
        placed.add(winner.advertiser_id)
    return placements


def _slot_rankings(
    bids: list[Bid],
    slots: Sequence[Slot],
    reserves: ReservePrices,
    slot_pctrs: Sequence[Sequence[float]],
) -> list[tuple[dict[str, int], list[Bid], dict[str, float]]]:
    """For each slot: the bids' eCPMs there, the bids at or above their reserve best first,
    and the bids' pCTRs there. The first slot's eCPMs check every bid; later slots' check
    only their pCTRs."""
    if len(slot_pctrs) != len(slots):
        raise ValueError(f"{len(slots)} slots but pCTRs for {len(slot_pctrs)}")
    if not slots:
        _ecpms(bids)
        return []
    # Sorted by the tie-break order once: a stable sort by eCPM alone then keeps it for ties.
    eligible = sorted(
        (bid for bid in bids if bid.bid_micros >= _reserve(bid, reserves)),
        key=lambda bid: (-bid.tie_breaker, bid.ad_group_id),
    )
    ids = [bid.ad_group_id for bid in bids]
    rankings = []
    for number, pctrs in enumerate(slot_pctrs):
        if number and pctrs == slot_pctrs[number - 1]:  # a model without a position effect
            rankings.append(rankings[-1])
            continue
        ecpms = _ecpms(bids, pctrs) if number == 0 else _ecpms_at(bids, pctrs)
        ranked = sorted(eligible, key=lambda bid: ecpms[bid.ad_group_id], reverse=True)
        rankings.append((ecpms, ranked, dict(zip(ids, pctrs, strict=True))))
    return rankings


def _ranking_at(
    bids: list[Bid],
    reserves: ReservePrices,
    pctrs: Sequence[float],
    slot_pctrs: Sequence[float],
    slot_ranking: tuple[dict[str, int], list[Bid], dict[str, float]],
) -> tuple[dict[str, int], list[Bid], dict[str, float]]:
    """As ``_slot_rankings`` gives for one slot, at the position its ad really takes, where
    the bids have ``pctrs``; the slot's own ranking if they are the pCTRs it was ranked by
    (a model without a position effect)."""
    pctrs = list(pctrs)
    if pctrs == list(slot_pctrs):
        return slot_ranking
    ecpms = _ecpms_at(bids, pctrs)
    return (
        ecpms,
        _ranked(bids, ecpms, reserves),
        dict(zip([bid.ad_group_id for bid in bids], pctrs, strict=True)),
    )


def _contenders(ranked: list[Bid], placed: set[str], slot: Slot) -> Iterator[Bid]:
    """In rank order, each advertiser's best bid among those that may sit in ``slot``,
    unless the advertiser already has an ad on the page. A bid that brand safety keeps out
    of the slot is passed over, and the advertiser's next bid stands in for it."""
    seen: set[str] = set()
    for bid in ranked:
        advertiser = bid.advertiser_id
        if advertiser in placed or advertiser in seen or not is_allowed(bid, slot):
            continue
        seen.add(advertiser)
        yield bid


def is_allowed(bid: Bid, slot: Slot) -> bool:
    """Whether brand safety lets the bid sit next to the slot's neighbours."""
    if not (bid.excluded_creators or bid.excluded_categories):
        return True
    return not any(
        item.creator_id in bid.excluded_creators or item.category in bid.excluded_categories
        for item in slot.neighbours
    )


def _price_to_match(bid: Bid, target_ecpm_micros: int) -> int:
    """The smallest whole bid in the bid's own unit whose eCPM reaches the target."""
    if bid.billing_event == CPM:
        return target_ecpm_micros
    # p * ppb * 1000 // 1e9 >= target  <=>  p >= target * 1e9 / (ppb * 1000): ceiling division.
    return -(-target_ecpm_micros * PPB // (pctr_ppb(bid.pctr) * IMPRESSIONS_PER_CPM))


def _best_per_advertiser(ranked: list[Bid]) -> list[Bid]:
    seen: set[str] = set()
    best: list[Bid] = []
    for bid in ranked:
        if bid.advertiser_id not in seen:
            seen.add(bid.advertiser_id)
            best.append(bid)
    return best


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_bid(bid: Bid) -> int:
    """Refuses a malformed bid; returns its pCTR in parts per billion."""
    if bid.billing_event not in BILLING_EVENTS:
        raise ValueError(f"unknown billing event {bid.billing_event!r} for {bid.ad_group_id}")
    if not _is_whole(bid.bid_micros) or bid.bid_micros <= 0:
        raise ValueError(f"bid_micros must be a positive integer for {bid.ad_group_id}")
    # A pCTR outside (0, 1] means the model or the caller is broken, whatever the billing.
    return pctr_ppb(bid.pctr)


def _check_reserves(reserves: ReservePrices) -> None:
    for reserve in (reserves.cpm_micros, reserves.cpc_micros):
        if not _is_whole(reserve) or reserve < 0:
            raise ValueError(f"reserve prices must be non-negative integers: {reserves!r}")


def _check_unique_ad_groups(bids: list[Bid]) -> None:
    # Two bids of one ad group would make the order depend on the input order.
    ad_group_ids = [bid.ad_group_id for bid in bids]
    if len(set(ad_group_ids)) != len(ad_group_ids):
        raise ValueError("each ad group may bid only once per auction")


def _check_slot_order(slots: Sequence[Slot]) -> None:
    positions = [slot.position for slot in slots]
    if any(later <= earlier for earlier, later in pairwise(positions)):
        raise ValueError(f"slots must be in page order with distinct positions: {positions}")

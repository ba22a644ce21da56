"""Replay logged auctions with another model: what would have won, at what price, and what
would it have earned, before anyone switches the model.

Each logged auction keeps its slots and every scored candidate with the feature vector it was
scored on. Both models re-score the same candidates; the same GSP auction prices both
rankings; one referee model's pCTR estimates the clicks of both outcomes (the candidate
model by default: it was just evaluated on held-out data), so the difference comes from the
ranking and pricing, not from who is judging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from auction.pricing import Slot, run_auction
from auction.types import CPC, CPM, Bid, Placement, ReservePrices

Scorer = Callable[[np.ndarray], np.ndarray]
IMPRESSIONS_PER_MILLE = 1000


@dataclass(frozen=True)
class LoggedAuction:
    slots: tuple[Slot, ...]
    bids: tuple[Bid, ...]  # pCTRs as logged; replaced when replayed
    features: np.ndarray  # one row per bid, as scored


@dataclass(frozen=True)
class PolicyOutcome:
    revenue_micros: float  # expected: CPM impressions at their price, CPC clicks at theirs
    clicks: float  # expected, by the referee
    impressions: int


@dataclass(frozen=True)
class ReplayReport:
    auctions: int
    changed: int  # auctions whose winners or prices differ
    active: PolicyOutcome
    candidate: PolicyOutcome

    def change(self, field: str) -> float | None:
        before, after = getattr(self.active, field), getattr(self.candidate, field)
        return None if before == 0 else after / before - 1


def replay(
    auctions: Iterable[LoggedAuction],
    active: Scorer,
    candidate: Scorer,
    referee: Scorer,
    reserves: ReservePrices,
) -> ReplayReport:
    count = changed = 0
    totals = {"active": [0.0, 0.0, 0], "candidate": [0.0, 0.0, 0]}
    for auction in auctions:
        if not auction.bids:
            continue
        count += 1
        truth = dict(
            zip((b.ad_group_id for b in auction.bids), referee(auction.features), strict=True)
        )
        outcomes = {}
        for name, scorer in (("active", active), ("candidate", candidate)):
            placements = run_auction(
                _rescored(auction.bids, scorer(auction.features)), auction.slots, reserves
            )
            outcomes[name] = [(p.bid.ad_group_id, p.position, p.price_micros) for p in placements]
            revenue, clicks = _expected(placements, truth)
            total = totals[name]
            total[0] += revenue
            total[1] += clicks
            total[2] += len(placements)
        changed += outcomes["active"] != outcomes["candidate"]
    return ReplayReport(
        count,
        changed,
        PolicyOutcome(*totals["active"]),
        PolicyOutcome(*totals["candidate"]),
    )


def _rescored(bids: Sequence[Bid], pctrs: np.ndarray) -> list[Bid]:
    return [
        Bid(
            ad_group_id=bid.ad_group_id,
            advertiser_id=bid.advertiser_id,
            billing_event=bid.billing_event,
            bid_micros=bid.bid_micros,
            pctr=float(pctr),
            excluded_creators=bid.excluded_creators,
            excluded_categories=bid.excluded_categories,
            tie_breaker=bid.tie_breaker,
        )
        for bid, pctr in zip(bids, pctrs, strict=True)
    ]


def _expected(placements: Sequence[Placement], truth: dict[str, float]) -> tuple[float, float]:
    revenue = clicks = 0.0
    for placement in placements:
        p_click = float(truth[placement.bid.ad_group_id])
        clicks += p_click
        if placement.bid.billing_event == CPM:
            revenue += placement.price_micros / IMPRESSIONS_PER_MILLE
        elif placement.bid.billing_event == CPC:
            revenue += placement.price_micros * p_click
    return revenue, clicks

"""Replay logged auctions with another model: what would have won, at what price, and what
would it have earned, before anyone switches the model.

Each logged auction keeps its slots and every scored candidate with the feature vector it was
scored on (at the first slot). Both models re-score the same candidates at every slot, as
serving does; the same GSP auction prices both rankings; one referee model's pCTR at the
position each winner took estimates the clicks of both outcomes (the candidate model by
default: it was just evaluated on held-out data), so the difference comes from the ranking
and pricing, not from who is judging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from auction.features import FEATURE_NAMES
from auction.pricing import Slot, run_auction
from auction.types import CPC, CPM, Bid, Placement, ReservePrices

Scorer = Callable[[np.ndarray], np.ndarray]
IMPRESSIONS_PER_MILLE = 1000
_POSITION = FEATURE_NAMES.index("position")


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
        outcomes = {}
        for name, scorer in (("active", active), ("candidate", candidate)):
            # As serving does: each candidate scored at each slot, and at the position a
            # slot's ad moves up to when an earlier slot stays empty.
            placements = run_auction(
                auction.bids,
                auction.slots,
                reserves,
                _slot_pctrs(auction, scorer),
                partial(_pctrs_at, auction, scorer),
            )
            outcomes[name] = [(p.bid.ad_group_id, p.position, p.price_micros) for p in placements]
            revenue, clicks = _expected(placements, _clicks(auction, placements, referee))
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


def _at_positions(rows: np.ndarray, positions: Sequence[int]) -> np.ndarray:
    moved = np.array(rows, dtype=np.float64)
    moved[:, _POSITION] = positions
    return moved


def _slot_pctrs(auction: LoggedAuction, scorer: Scorer) -> list[list[float]]:
    return [_pctrs_at(auction, scorer, slot.position) for slot in auction.slots]


def _pctrs_at(auction: LoggedAuction, scorer: Scorer, position: int) -> list[float]:
    rows = len(auction.bids)
    return [float(p) for p in scorer(_at_positions(auction.features, [position] * rows))]


def _clicks(auction: LoggedAuction, placements: Sequence[Placement], referee: Scorer) -> np.ndarray:
    """The referee's pCTR of each placement, at the position it took."""
    if not placements:
        return np.empty(0)
    index_of = {bid.ad_group_id: index for index, bid in enumerate(auction.bids)}
    rows = auction.features[[index_of[p.bid.ad_group_id] for p in placements]]
    return referee(_at_positions(rows, [p.position for p in placements]))


def _expected(placements: Sequence[Placement], clicks: np.ndarray) -> tuple[float, float]:
    revenue = total_clicks = 0.0
    for placement, p_click in zip(placements, clicks.tolist(), strict=True):
        total_clicks += p_click
        if placement.bid.billing_event == CPM:
            revenue += placement.price_micros / IMPRESSIONS_PER_MILLE
        elif placement.bid.billing_event == CPC:
            revenue += placement.price_micros * p_click
    return revenue, total_clicks

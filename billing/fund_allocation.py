"""Splitting a creator-fund pool: pro rata by weight, an optional cap per creator with the
excess redistributed, and largest-remainder rounding to the currency's step, so the shares
sum to the pool exactly and each is within one step of its exact share.

Exact shares are fractions, never floats. With a cap the split is a "water level": one rate
(micros per unit of weight) for everyone, and a capped creator gets the cap instead of
weight × rate. The rate and the cap are all it takes to recompute any exact share later
(a clawback does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Share:
    creator_id: str
    weight: int
    exact: Fraction  # micros, before rounding
    capped: bool
    micros: int  # rounded to a whole step; sums to the pool over all shares

    @property
    def rounding(self) -> Fraction:
        """What rounding added (positive) or took (negative), in micros."""
        return self.micros - self.exact


@dataclass(frozen=True, slots=True)
class Allocation:
    pool_micros: int
    rate: Fraction  # micros per unit of weight for the creators below the cap
    shares: dict[str, Share]
    # Left in the pool when every creator is at the cap, or when no one has weight.
    undistributed_micros: int

    @property
    def distributed_micros(self) -> int:
        return self.pool_micros - self.undistributed_micros


def water_level(pool: int, weights: Mapping[str, int], cap: int | None) -> tuple[Fraction, set]:
    """The rate at which ``pool`` is split by ``weights`` when no one may get more than
    ``cap``, and the creators held at the cap. When everyone is held at the cap, the rate is
    the one at which the last of them reached it, so weight × rate ≥ cap still says "capped"."""
    remaining_pool, remaining_weight = Fraction(pool), sum(weights.values())
    if not remaining_weight:
        return Fraction(0), set()
    rate = remaining_pool / remaining_weight
    capped: set[str] = set()
    if cap is not None:
        # Heaviest first: if anyone is over the cap at the current rate, the heaviest is.
        for creator_id in sorted(weights, key=lambda c: (-weights[c], c)):
            if weights[creator_id] * rate <= cap:
                break
            capped.add(creator_id)
            remaining_pool -= cap
            remaining_weight -= weights[creator_id]
            if remaining_weight:
                rate = remaining_pool / remaining_weight
    return rate, capped


def exact_share(weight: int, rate: Fraction, cap: int | None) -> Fraction:
    share = weight * rate
    return min(share, Fraction(cap)) if cap is not None else share


def allocate(
    pool: int, weights: Mapping[str, int], step: int, cap: int | None = None
) -> Allocation:
    """Split ``pool`` micros among ``weights`` (creator id → positive weight). ``pool`` and
    ``cap`` must be whole multiples of ``step`` (the currency's smallest payable amount)."""
    if pool < 0 or pool % step:
        raise ValueError(f"the pool must be a non-negative multiple of {step}: {pool}")
    if cap is not None and (cap <= 0 or cap % step):
        raise ValueError(f"the cap must be a positive multiple of {step}: {cap}")
    if any(type(w) is not int or w <= 0 for w in weights.values()):
        raise ValueError("every weight must be a positive integer")
    rate, capped = water_level(pool, weights, cap)
    exact = {c: Fraction(cap) if c in capped else w * rate for c, w in weights.items()}
    units = {c: int(share // step) for c, share in exact.items()}
    remainders = {c: share - units[c] * step for c, share in exact.items()}
    # The exact shares sum to a whole number of steps: the pool, or n × cap when all are
    # capped. The steps the floors left over go one each to the largest remainders; ties go
    # to the heavier creator, then to the smaller id, whatever order the input came in.
    total = sum(exact.values(), Fraction(0))
    missing = int(total // step) - sum(units.values())
    by_remainder = sorted(
        (c for c in remainders if remainders[c]),
        key=lambda c: (-remainders[c], -weights[c], c),
    )
    for creator_id in by_remainder[:missing]:
        units[creator_id] += 1
    shares = {
        c: Share(c, weights[c], exact[c], c in capped, units[c] * step) for c in sorted(weights)
    }
    distributed = sum(share.micros for share in shares.values())
    return Allocation(pool, rate, shares, pool - distributed)


@dataclass(frozen=True, slots=True)
class Settlement:
    """A creator's balance after a run: paid out when it reaches the minimum, else carried."""

    balance_micros: int  # carried in + share − clawback
    payable_micros: int
    carried_micros: int


def settle(share: int, carried_in: int, clawback: int, minimum_payout: int) -> Settlement:
    balance = carried_in + share - clawback
    if balance >= minimum_payout and balance > 0:
        return Settlement(balance, balance, 0)
    return Settlement(balance, 0, balance)


def clawback(
    paid_share: int,
    new_weight: int,
    rate: Fraction,
    cap: int | None,
    step: int,
    already_clawed: int,
    everyone_capped: bool = False,
) -> int:
    """What to take back from a creator whose weight in an earlier run turned out lower
    (traffic found invalid later): the share paid minus the share the new weight earns at
    that run's rate, rounded in the creator's favour, minus what was already taken back.
    When that run held everyone at the cap and left money over, any weight still earns the
    cap (the rate there says only where the last creator reached it)."""
    if everyone_capped:
        deserved = Fraction(cap if new_weight > 0 else 0)
    else:
        deserved = exact_share(new_weight, rate, cap)
    kept = int(deserved // step) * step + (step if deserved % step else 0)
    return max(paid_share - kept - already_clawed, 0)

"""Where ads go in a page of the feed, and the page with the ads put in.

Positions are 0-based indexes in the blended feed, counting organic items and ads alike.
An ad always sits right before an organic item, never after the last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from auction.pricing import Slot
from auction.types import AdLoadPolicy, FeedItem, Placement


class AdLoadOutOfRange(ValueError):
    """A requested ad-load setting outside the platform's limits."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class AdLoadLimits:
    """The inclusive range a request may set each AdLoadPolicy field to."""

    first_position_min: int = 1
    first_position_max: int = 20
    min_gap_min: int = 2
    min_gap_max: int = 20
    max_ads_min: int = 0
    max_ads_max: int = 5

    def __post_init__(self) -> None:
        for name in _POLICY_FIELDS:
            low, high = self.bounds(name)
            if low > high:
                raise ValueError(f"{name}: the minimum {low} is above the maximum {high}")

    def bounds(self, field: str) -> tuple[int, int]:
        """The (minimum, maximum) allowed for a policy field."""
        return getattr(self, f"{field}_min"), getattr(self, f"{field}_max")


_POLICY_FIELDS = tuple(field.name for field in fields(AdLoadPolicy))


def apply_overrides(
    base: AdLoadPolicy, limits: AdLoadLimits, **overrides: int | None
) -> AdLoadPolicy:
    """``base`` with the given fields replaced; None leaves a field as it is."""
    unknown = sorted(set(overrides) - set(_POLICY_FIELDS))
    if unknown:
        raise TypeError(f"not ad-load settings: {', '.join(unknown)}")
    changes = {name: value for name, value in overrides.items() if value is not None}
    for name, value in changes.items():
        _check_in_limits(name, value, limits)
    return replace(base, **changes)


def slot_positions(feed_length: int, policy: AdLoadPolicy) -> list[int]:
    """The blended-feed indexes where ads may go, in page order, as many as fit."""
    return [
        organic_index + ads_before
        for ads_before, organic_index in enumerate(_organic_anchors(feed_length, policy))
    ]


def slots_for(feed: Sequence[FeedItem], policy: AdLoadPolicy) -> list[Slot]:
    """The page's slots, each with the organic item before it (if any) and the one after.

    A neighbour's category is compared in lower case, as excluded categories are written:
    a feed that sends "Gambling" must not slip past an exclusion of "gambling"."""
    slots = []
    anchors = _organic_anchors(len(feed), policy)
    for ads_before, organic_index in enumerate(anchors):
        before = (_lower_case(feed[organic_index - 1]),) if organic_index > 0 else ()
        slots.append(
            Slot(
                position=organic_index + ads_before,
                neighbours=(*before, _lower_case(feed[organic_index])),
            )
        )
    return slots


def _lower_case(item: FeedItem) -> FeedItem:
    category = item.category
    if category is None or category == (lowered := category.lower()):
        return item
    return FeedItem(item.video_id, item.creator_id, lowered)


def blend(feed: Sequence[FeedItem], placements: Sequence[Placement]) -> list[FeedItem | Placement]:
    """The organic items in order with each placement at its position.

    Positions must be the real indexes in the blended list. ``run_auction`` gives them so:
    when a slot stays empty it moves every later placement one place up, so each ad still
    sits before the organic item it was priced next to. Hence in the result every
    placement's ``position`` equals its index.
    """
    ordered = sorted(placements, key=lambda placement: placement.position)
    _check_positions(len(feed), ordered)
    blended: list[FeedItem | Placement] = []
    organic = iter(feed)
    for placement in ordered:
        while len(blended) < placement.position:
            blended.append(next(organic))
        blended.append(placement)
    blended.extend(organic)
    return blended


def _organic_anchors(feed_length: int, policy: AdLoadPolicy) -> list[int]:
    """The index, among organic items only, of the item each ad goes right before."""
    _check_policy(feed_length, policy)
    anchors = range(policy.first_position, feed_length, policy.min_gap)
    return list(anchors[: policy.max_ads])


def _check_policy(feed_length: int, policy: AdLoadPolicy) -> None:
    if feed_length < 0:
        raise ValueError(f"feed_length must not be negative: {feed_length}")
    # A gap of 0 would stack ads on the same organic item; negatives make no sense at all.
    if policy.first_position < 0 or policy.min_gap < 1 or policy.max_ads < 0:
        raise ValueError(f"impossible ad-load policy: {policy!r}")


def _check_in_limits(name: str, value: object, limits: AdLoadLimits) -> None:
    low, high = limits.bounds(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AdLoadOutOfRange(name, f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise AdLoadOutOfRange(name, f"{name} must be between {low} and {high}, got {value}")


def _check_positions(feed_length: int, ordered: Sequence[Placement]) -> None:
    """Each ad must sit before an organic item, at most one ad per position."""
    for ads_before, placement in enumerate(ordered):
        organic_index = placement.position - ads_before
        if not 0 <= organic_index < feed_length:
            raise ValueError(f"no organic item to follow an ad at position {placement.position}")
        if ads_before and placement.position == ordered[ads_before - 1].position:
            raise ValueError(f"two ads at position {placement.position}")

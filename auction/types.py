"""The values the auction works on: immutable, plain Python, no I/O.

Money is integer micros. A pCTR is a float probability; everything priced from it is
rounded to whole micros by the pricing rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

CPM = "CPM"
CPC = "CPC"


@dataclass(frozen=True, slots=True)
class User:
    """The viewer, as the feed service describes them (a pseudonymous id)."""

    id: str
    country: str | None = None
    language: str | None = None
    age_group: str | None = None
    gender: str | None = None
    os: str | None = None
    interests: frozenset[str] = frozenset()
    # IANA name of the viewer's time zone; the CTR model reads the hour and weekday there
    # (UTC when it is unknown).
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One organic video of the ranked feed."""

    video_id: str
    creator_id: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Targeting:
    """Who an ad group wants. An empty set means everyone on that dimension; interests
    match when the user has at least one of them."""

    countries: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    age_groups: frozenset[str] = frozenset()
    genders: frozenset[str] = frozenset()
    os: frozenset[str] = frozenset()
    interests: frozenset[str] = frozenset()
    # Brand safety: never placed next to these creators' videos or these categories.
    excluded_categories: frozenset[str] = frozenset()
    excluded_creators: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Creative:
    video_url: str | None
    video_id: str | None
    caption: str
    call_to_action: str
    landing_url: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Ad:
    """An approved, active ad of an ad group."""

    ad_id: str
    creative: Creative


@dataclass(frozen=True, slots=True)
class Budget:
    mode: str  # "DAILY" (per day in the advertiser's time zone) or "LIFETIME"
    amount_micros: int


@dataclass(frozen=True, slots=True)
class AdGroup:
    """Everything the auction needs to know about one servable ad group.

    Only ad groups that are ACTIVE, in an ACTIVE campaign of an ACTIVE advertiser, with at
    least one approved active ad, are put in a snapshot; the time-dependent rules (flight
    dates, dayparting, budgets, pacing, frequency caps, balance) are checked per request.
    """

    ad_group_id: str
    campaign_id: str
    advertiser_id: str
    objective: str
    billing_event: str  # CPM or CPC
    bid_micros: int  # per 1000 impressions for CPM, per click for CPC
    targeting: Targeting
    ads: tuple[Ad, ...]
    timezone: str  # the advertiser's IANA time zone
    campaign_start: datetime
    campaign_end: datetime | None
    campaign_budget: Budget
    ad_group_budget: Budget | None = None
    pacing: str = "STANDARD"  # or "ACCELERATED"
    # (max impressions, window hours) per user, or None.
    frequency_cap: tuple[int, int] | None = None
    # Hours of the week when it may serve, 0 = Monday 00:00-01:00 in ``timezone``; None = all.
    dayparting: frozenset[int] | None = None
    # What the advertiser sells, as an interest slug (e.g. "fitness"), or None: the CTR model
    # asks whether the viewer has it.
    industry: str | None = None


# Spend and Bid are values, never changed once built (``dataclasses.replace`` makes a new
# one), but not frozen: an auction builds about 50 of each, and a frozen dataclass's
# ``__init__`` (one object.__setattr__ per field) costs four to five times a plain one's.
# Hashed by value all the same, so the frozen Placement that holds a Bid stays hashable.
@dataclass(slots=True, unsafe_hash=True)
class Spend:
    """Spend so far, as the shared counters know it; days are the advertiser's days. Only
    the totals the ad group's budgets count are read (a campaign with a daily budget: its
    spend today, not its lifetime spend); the others are 0."""

    ad_group_today_micros: int = 0
    ad_group_lifetime_micros: int = 0
    campaign_today_micros: int = 0
    campaign_lifetime_micros: int = 0


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see Spend
class Bid:
    """One ad group's entry in an auction: its bid and its predicted click-through rate."""

    ad_group_id: str
    advertiser_id: str
    billing_event: str
    bid_micros: int
    pctr: float
    excluded_creators: frozenset[str] = frozenset()
    excluded_categories: frozenset[str] = frozenset()
    # Orders bids of equal eCPM; the engine derives it from the request, so ties fall
    # differently (but reproducibly) from one request to the next.
    tie_breaker: int = 0


@dataclass(frozen=True, slots=True)
class ReservePrices:
    """Floors per billing event: micros per 1000 impressions (CPM) and per click (CPC)."""

    cpm_micros: int
    cpc_micros: int


@dataclass(frozen=True, slots=True)
class AdLoadPolicy:
    """Where ads may go in a page of the feed.

    ``first_position``: how many organic items come before the first ad.
    ``min_gap``: the fewest organic items between two ads.
    ``max_ads``: the most ads in one page.
    An ad always sits before an organic item, never at the end of the page.
    """

    first_position: int = 3
    min_gap: int = 4
    max_ads: int = 3


@dataclass(frozen=True, slots=True)
class Placement:
    """A winning bid in a slot of the blended feed, with what it pays."""

    bid: Bid
    position: int  # index in the blended feed (organic items and ads), 0-based
    ecpm_micros: int
    price_micros: int  # per 1000 impressions for CPM, per click for CPC

"""The creator fund's programme rules: who is eligible, what a creator's weight is, and how
big the pool is. Versioned by the platform; every payout run records the version it used.

Everything is an integer: views, followers, micros, and the revenue share in parts per
million, so a run computed twice gives the same numbers to the micro.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from billing.money import Money, stripe_step_micros

PPM = 1_000_000


class Standing(StrEnum):
    GOOD = "GOOD"
    WARNED = "WARNED"
    SUSPENDED = "SUSPENDED"
    BANNED = "BANNED"


class PoolMode(StrEnum):
    FIXED = "FIXED"  # the same amount every period (per day, or per month)
    REVENUE_SHARE = "REVENUE_SHARE"  # a share of the period's ad revenue in the ledger


class Exclusion(StrEnum):
    """Why a creator gets nothing from a run; a creator may have several."""

    NOT_JOINED = "not_joined"
    AGE_NOT_VERIFIED = "age_not_verified"
    UNDER_MINIMUM_AGE = "under_minimum_age"
    TOO_FEW_FOLLOWERS = "too_few_followers"
    TOO_FEW_TRAILING_VIEWS = "too_few_trailing_qualified_views"
    COUNTRY_NOT_IN_PROGRAMME = "country_not_in_programme"
    NOT_IN_GOOD_STANDING = "not_in_good_standing"
    NO_QUALIFIED_VIEWS = "no_qualified_views_in_period"


class InvalidRules(ValueError):
    """Programme rules that could not be applied (a cap that is not a whole step, ...);
    ``rule`` names the rule at fault, when it is one rule."""

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class Rules:
    currency: str = "USD"
    pool_mode: PoolMode = PoolMode.REVENUE_SHARE
    # FIXED: the pool of a one-day run; a month's run gets this times its number of days.
    fixed_pool_micros_per_day: int = 0
    revenue_share_ppm: int = 200_000  # 20% of the period's ad revenue
    min_age: int = 18
    min_followers: int = 10_000
    min_trailing_qualified_views: int = 100_000
    trailing_days: int = 30
    countries: tuple[str, ...] = ("US", "GB", "DE", "FR", "JP", "BR", "IN", "CA", "AU")
    minimum_payout_micros: int = 10_000_000
    cap_micros: int | None = None  # at most this much per creator per run
    # The engagement bonus: each like, comment or share is worth this many qualified views,
    # bounded by a percentage of the creator's qualified views. 0 switches it off.
    views_per_interaction: int = 0
    max_bonus_percent: int = 0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "pool_mode", PoolMode(self.pool_mode))
            Money(self.currency, 0)  # a well-formed currency code (services check the ISO list)
        except (TypeError, ValueError) as error:
            raise InvalidRules(str(error), "currency") from None
        if isinstance(self.countries, str) or not all(
            isinstance(c, str) and len(c) == 2 and c.isascii() and c.isupper()
            for c in self.countries
        ):
            raise InvalidRules("countries must be a list of ISO 3166-1 alpha-2 codes", "countries")
        object.__setattr__(self, "countries", tuple(sorted(set(self.countries))))
        step = stripe_step_micros(self.currency)
        counts = (
            "fixed_pool_micros_per_day",
            "revenue_share_ppm",
            "min_age",
            "min_followers",
            "min_trailing_qualified_views",
            "minimum_payout_micros",
            "views_per_interaction",
            "max_bonus_percent",
        )
        for name in counts:
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise InvalidRules(f"{name} must be a non-negative integer, not {value!r}", name)
        if not 1 <= self.trailing_days <= 366:
            raise InvalidRules("trailing_days must be between 1 and 366", "trailing_days")
        if self.revenue_share_ppm > PPM:
            raise InvalidRules(
                "revenue_share_ppm cannot exceed 1,000,000 (100%)", "revenue_share_ppm"
            )
        if self.max_bonus_percent > 100:
            raise InvalidRules("max_bonus_percent cannot exceed 100", "max_bonus_percent")
        if self.cap_micros is not None and (
            type(self.cap_micros) is not int or self.cap_micros <= 0
        ):
            raise InvalidRules("cap_micros must be a positive integer or null", "cap_micros")
        for name in ("fixed_pool_micros_per_day", "minimum_payout_micros", "cap_micros"):
            value = getattr(self, name)
            if value is not None and value % step:
                raise InvalidRules(
                    f"{name} must be a whole number of {self.currency} steps ({step} micros)",
                    name,
                )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pool_mode"] = self.pool_mode.value
        data["countries"] = list(self.countries)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rules:
        """Rules from their stored form; names this version does not know are refused."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidRules(f"unknown rules: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(frozen=True)
class CreatorFacts:
    """What the rules look at for one creator and one run; engagement counts only days on or
    after the creator joined the programme."""

    creator_id: str
    country: str
    verified_age: int | None
    followers: int
    standing: Standing
    joined_on: date | None
    qualified_views: int = 0  # in the period
    interactions: int = 0  # likes, comments and shares in the period
    trailing_qualified_views: int = 0  # in the trailing window ending with the period
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def exclusions(creator: CreatorFacts, rules: Rules, period_end: date) -> list[Exclusion]:
    """Every reason the creator is not paid for a period ending (inclusive) on period_end."""
    reasons = []
    if creator.joined_on is None or creator.joined_on > period_end:
        reasons.append(Exclusion.NOT_JOINED)
    if creator.verified_age is None:
        reasons.append(Exclusion.AGE_NOT_VERIFIED)
    elif creator.verified_age < rules.min_age:
        reasons.append(Exclusion.UNDER_MINIMUM_AGE)
    if creator.followers < rules.min_followers:
        reasons.append(Exclusion.TOO_FEW_FOLLOWERS)
    if creator.trailing_qualified_views < rules.min_trailing_qualified_views:
        reasons.append(Exclusion.TOO_FEW_TRAILING_VIEWS)
    if creator.country not in rules.countries:
        reasons.append(Exclusion.COUNTRY_NOT_IN_PROGRAMME)
    if creator.standing != Standing.GOOD:
        reasons.append(Exclusion.NOT_IN_GOOD_STANDING)
    if creator.qualified_views <= 0:
        reasons.append(Exclusion.NO_QUALIFIED_VIEWS)
    return reasons


def weight(qualified_views: int, interactions: int, rules: Rules) -> int:
    """Qualified views, plus the bounded engagement bonus when the rules have one."""
    bonus = min(
        interactions * rules.views_per_interaction,
        qualified_views * rules.max_bonus_percent // 100,
    )
    return qualified_views + bonus


def pool_micros(rules: Rules, days: int, revenue_micros: int) -> int:
    """The period's pool, rounded down to a whole step of the currency (what is left of a
    revenue share stays with the platform)."""
    if rules.pool_mode == PoolMode.FIXED:
        return rules.fixed_pool_micros_per_day * days
    step = stripe_step_micros(rules.currency)
    exact = max(revenue_micros, 0) * rules.revenue_share_ppm // PPM
    return exact - exact % step

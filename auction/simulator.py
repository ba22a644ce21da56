"""A simulated market: users, advertisers with their ad groups, and a hidden click model.

Used to train and evaluate the CTR model before real traffic exists, and by demos and
benchmarks. Everything is a function of its seed: each function builds its own
``numpy.random.Generator``, so no global random state is read or changed.

The ground truth (``ClickModel``) is made of effects the features in ``auction.features`` can
see (position, os, age group, interest match, the hour on the viewer's clock, per-ad-group
quality through the ad group's history), plus one they cannot fully see (the advertiser's
vertical for ad groups that do not target interests), so a trained model gets close to the
oracle but not all the way.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

import numpy as np

from auction import features
from auction.ctr import TrainingRows
from auction.history import HistoryRecorder
from auction.types import CPC, CPM, Ad, AdGroup, Budget, Creative, Targeting, User

INTERESTS: tuple[str, ...] = (
    "gaming", "beauty", "fitness", "cooking", "travel", "finance", "pets", "music",
    "fashion", "tech", "sports", "movies", "books", "cars", "parenting", "diy",
    "gardening", "photography", "comedy", "dance", "education", "health", "outdoors",
    "art", "crypto", "food", "home", "anime", "science", "news",
)  # fmt: skip

# Country: (share of users, [(language, share within the country)]).
COUNTRIES: dict[str, tuple[float, tuple[tuple[str, float], ...]]] = {
    "US": (0.34, (("en", 0.85), ("es", 0.15))),
    "BR": (0.14, (("pt", 1.0),)),
    "IN": (0.12, (("hi", 0.55), ("en", 0.45))),
    "DE": (0.11, (("de", 0.9), ("en", 0.1))),
    "GB": (0.10, (("en", 1.0),)),
    "FR": (0.10, (("fr", 1.0),)),
    "JP": (0.09, (("ja", 1.0),)),
}
AGE_GROUPS: dict[str, float] = {
    "13-17": 0.10, "18-24": 0.30, "25-34": 0.27, "35-44": 0.16, "45-54": 0.10, "55+": 0.07,
}  # fmt: skip
GENDERS: dict[str, float] = {"female": 0.49, "male": 0.48, "other": 0.03}
OPERATING_SYSTEMS: dict[str, float] = {"android": 0.62, "ios": 0.38}
# Share of users who did not tell us their age group or gender.
UNKNOWN_DEMOGRAPHICS_SHARE = 0.05

# The time zones of each country's users (equally shared).
USER_TIMEZONES: dict[str, tuple[str, ...]] = {
    "US": ("America/New_York", "America/Chicago", "America/Los_Angeles"),
    "BR": ("America/Sao_Paulo",),
    "IN": ("Asia/Kolkata",),
    "DE": ("Europe/Berlin",),
    "GB": ("Europe/London",),
    "FR": ("Europe/Paris",),
    "JP": ("Asia/Tokyo",),
}
TIMEZONES: tuple[str, ...] = (
    "America/New_York", "America/Los_Angeles", "America/Sao_Paulo", "Europe/London",
    "Europe/Berlin", "Europe/Paris", "Asia/Kolkata", "Asia/Tokyo", "UTC",
)  # fmt: skip
OBJECTIVES: dict[str, float] = {"TRAFFIC": 0.5, "VIDEO_VIEWS": 0.3, "REACH": 0.2}
# Share of CPC among the ad groups of each objective; reach is bought by the impression only.
CPC_SHARE: dict[str, float] = {"TRAFFIC": 0.7, "VIDEO_VIEWS": 0.4, "REACH": 0.0}
CALLS_TO_ACTION: dict[str, str] = {
    "TRAFFIC": "LEARN_MORE", "VIDEO_VIEWS": "WATCH_MORE", "REACH": "SHOP_NOW",
}  # fmt: skip
EXCLUDABLE_CATEGORIES: tuple[str, ...] = ("news", "politics", "comedy", "crypto")

MICROS_PER_CENT = 10_000
CPM_BID_CENTS = (100, 2_000)  # 1-20 USD per 1000 impressions
CPC_BID_CENTS = (5, 200)  # 0.05-2 USD per click
AD_GROUPS_PER_CAMPAIGN = 2
MAX_POSITION = 15


# ----------------------------------------------------------------------------- users


def _pick(rng: np.random.Generator, weighted: dict[str, float], size: int) -> list[str]:
    names = list(weighted)
    shares = np.array([weighted[name] for name in names])
    return [names[i] for i in rng.choice(len(names), size=size, p=shares / shares.sum())]


def _language_for(rng: np.random.Generator, country: str) -> str:
    languages = COUNTRIES[country][1]
    shares = np.array([share for _, share in languages])
    return languages[rng.choice(len(languages), p=shares / shares.sum())][0]


def _interests(rng: np.random.Generator) -> frozenset[str]:
    count = int(rng.integers(1, 5))
    return frozenset(INTERESTS[i] for i in rng.choice(len(INTERESTS), size=count, replace=False))


def _maybe_unknown(rng: np.random.Generator, value: str) -> str | None:
    return None if rng.random() < UNKNOWN_DEMOGRAPHICS_SHARE else value


def make_users(n: int, seed: int) -> list[User]:
    """``n`` users with ids ``user_sim_000001``…; languages and time zones follow their
    country."""
    rng = np.random.default_rng([seed, 1])
    countries = _pick(rng, {c: share for c, (share, _) in COUNTRIES.items()}, n)
    age_groups = _pick(rng, AGE_GROUPS, n)
    genders = _pick(rng, GENDERS, n)
    systems = _pick(rng, OPERATING_SYSTEMS, n)
    # A stream of its own, so the users' other attributes stay what earlier releases drew.
    zone_draws = np.random.default_rng([seed, 4]).random(n)
    return [
        User(
            id=f"user_sim_{index + 1:06d}",
            country=countries[index],
            language=_language_for(rng, countries[index]),
            age_group=_maybe_unknown(rng, age_groups[index]),
            gender=_maybe_unknown(rng, genders[index]),
            os=systems[index],
            interests=_interests(rng),
            timezone=_zone_of(countries[index], zone_draws[index]),
        )
        for index in range(n)
    ]


def _zone_of(country: str, draw: float) -> str:
    zones = USER_TIMEZONES[country]
    return zones[int(draw * len(zones))]


def feed_user(user: User) -> dict:
    """``user`` as the feed service describes it in ``POST /v1/auction``."""
    return {
        "id": user.id,
        "country": user.country,
        "language": user.language,
        "age_group": user.age_group,
        "gender": user.gender,
        "os": user.os,
        "interests": sorted(user.interests),
        "timezone": user.timezone,
    }


# ----------------------------------------------------------------------------- market


def advertiser_vertical(advertiser_id: str) -> str:
    """The interest an advertiser sells to. A function of the id alone, so the click model
    can know it without a side table (``AdGroup`` has no vertical)."""
    return INTERESTS[features.stable_bucket("vertical", advertiser_id, len(INTERESTS))]


def _cents_log_uniform(rng: np.random.Generator, low: int, high: int) -> int:
    # Bids spread over an order of magnitude, most of them at the cheap end, as in real markets.
    return int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))


def _bid_micros(rng: np.random.Generator, billing_event: str) -> int:
    low, high = CPM_BID_CENTS if billing_event == CPM else CPC_BID_CENTS
    return _cents_log_uniform(rng, low, high) * MICROS_PER_CENT


def _usd_micros(rng: np.random.Generator, low_usd: int, high_usd: int) -> int:
    return int(rng.integers(low_usd, high_usd + 1)) * 1_000_000


def _campaign_budget(rng: np.random.Generator) -> Budget:
    if rng.random() < 0.75:
        return Budget("DAILY", _usd_micros(rng, 50, 2_000))
    return Budget("LIFETIME", _usd_micros(rng, 1_000, 50_000))


def _ad_group_budget(rng: np.random.Generator) -> Budget | None:
    return Budget("DAILY", _usd_micros(rng, 20, 500)) if rng.random() < 0.5 else None


def _some(rng: np.random.Generator, choices: Sequence[str], low: int, high: int) -> frozenset[str]:
    count = int(rng.integers(low, high + 1))
    return frozenset(choices[i] for i in rng.choice(len(choices), size=count, replace=False))


def _targeted_interests(rng: np.random.Generator, vertical: str) -> frozenset[str]:
    others = [interest for interest in INTERESTS if interest != vertical]
    return frozenset({vertical}) | _some(rng, others, 0, 2)


def _adjacent_age_groups(rng: np.random.Generator) -> frozenset[str]:
    groups = list(AGE_GROUPS)
    start = int(rng.integers(0, len(groups) - 1))
    return frozenset(groups[start : start + int(rng.integers(2, 4))])


def _targeting(rng: np.random.Generator, vertical: str) -> Targeting:
    """Half the ad groups are broad; the rest narrow on one or more dimensions."""
    if rng.random() < 0.5:
        return Targeting()
    return Targeting(
        countries=_some(rng, list(COUNTRIES), 1, 3) if rng.random() < 0.3 else frozenset(),
        age_groups=_adjacent_age_groups(rng) if rng.random() < 0.25 else frozenset(),
        genders=frozenset({_pick(rng, GENDERS, 1)[0]}) if rng.random() < 0.05 else frozenset(),
        os=frozenset({_pick(rng, OPERATING_SYSTEMS, 1)[0]}) if rng.random() < 0.1 else frozenset(),
        interests=_targeted_interests(rng, vertical) if rng.random() < 0.6 else frozenset(),
        excluded_categories=(
            _some(rng, EXCLUDABLE_CATEGORIES, 1, 2) if rng.random() < 0.1 else frozenset()
        ),
    )


def _ads(
    rng: np.random.Generator, ad_group_key: str, vertical: str, objective: str
) -> tuple[Ad, ...]:
    advertiser_number = ad_group_key.split("_")[0]
    return tuple(
        Ad(
            ad_id=f"ad_sim_{ad_group_key}_{index}",
            creative=Creative(
                video_url=f"https://cdn.example.com/sim/{ad_group_key}_{index}.mp4",
                video_id=f"vid_sim_{ad_group_key}_{index}",
                caption=f"The best of {vertical}, from advertiser {advertiser_number}",
                call_to_action=CALLS_TO_ACTION[objective],
                landing_url=f"https://adv-sim-{advertiser_number}.example.com/{vertical}",
                display_name=f"Sim Advertiser {advertiser_number}",
            ),
        )
        for index in range(1, int(rng.integers(1, 3)) + 1)
    )


@dataclass(frozen=True)
class _Campaign:
    campaign_id: str
    objective: str
    budget: Budget
    start: datetime
    end: datetime | None


def _campaign(rng: np.random.Generator, campaign_id: str, now: datetime) -> _Campaign:
    end = None if rng.random() < 0.2 else now + timedelta(days=int(rng.integers(1, 31)))
    return _Campaign(
        campaign_id=campaign_id,
        objective=_pick(rng, OBJECTIVES, 1)[0],
        budget=_campaign_budget(rng),
        start=now - timedelta(days=int(rng.integers(1, 31))),
        end=end,
    )


def _billing_event(rng: np.random.Generator, objective: str) -> str:
    return CPC if rng.random() < CPC_SHARE[objective] else CPM


def _ad_group(
    rng: np.random.Generator,
    advertiser_id: str,
    ad_group_key: str,
    campaign: _Campaign,
    timezone: str,
) -> AdGroup:
    vertical = advertiser_vertical(advertiser_id)
    billing_event = _billing_event(rng, campaign.objective)
    return AdGroup(
        ad_group_id=f"adg_sim_{ad_group_key}",
        campaign_id=campaign.campaign_id,
        advertiser_id=advertiser_id,
        objective=campaign.objective,
        billing_event=billing_event,
        bid_micros=_bid_micros(rng, billing_event),
        targeting=_targeting(rng, vertical),
        ads=_ads(rng, ad_group_key, vertical, campaign.objective),
        timezone=timezone,
        campaign_start=campaign.start,
        campaign_end=campaign.end,
        campaign_budget=campaign.budget,
        ad_group_budget=_ad_group_budget(rng),
        pacing="ACCELERATED" if rng.random() < 0.15 else "STANDARD",
        frequency_cap=(3, 24) if rng.random() < 0.2 else None,
        # Daytime only (07:00-23:00 every day, in the advertiser's zone).
        dayparting=(
            frozenset(day * 24 + hour for day in range(7) for hour in range(7, 23))
            if rng.random() < 0.1
            else None
        ),
        industry=vertical,
    )


def _advertiser_ad_groups(
    rng: np.random.Generator, advertiser_number: int, count: int, now: datetime
) -> list[AdGroup]:
    advertiser_key = f"{advertiser_number:04d}"
    advertiser_id = f"adv_sim_{advertiser_key}"
    timezone = TIMEZONES[int(rng.integers(len(TIMEZONES)))]
    campaigns = [
        _campaign(rng, f"cmp_sim_{advertiser_key}_{number:02d}", now)
        for number in range(1, math.ceil(count / AD_GROUPS_PER_CAMPAIGN) + 1)
    ]
    return [
        _ad_group(
            rng,
            advertiser_id,
            f"{advertiser_key}_{index + 1:02d}",
            # Consecutive ad groups share a campaign (its objective, dates and budget).
            campaigns[index // AD_GROUPS_PER_CAMPAIGN],
            timezone,
        )
        for index in range(count)
    ]


def make_market(
    n_advertisers: int, ad_groups_per_advertiser: int, seed: int, now: datetime
) -> list[AdGroup]:
    """Ad groups of ``n_advertisers`` advertisers (``adv_sim_0001``…), all servable at ``now``:
    campaigns started up to 30 days before it and end up to 30 days after (or never)."""
    rng = np.random.default_rng([seed, 2])
    return [
        ad_group
        for number in range(1, n_advertisers + 1)
        for ad_group in _advertiser_ad_groups(rng, number, ad_groups_per_advertiser, now)
    ]


# ----------------------------------------------------------------------------- clicks


BASE_CTR = 0.02
QUALITY_SPREAD = 0.6  # standard deviation, in log-odds, of the hidden per-ad-group quality
INTEREST_BOOST = 0.8  # log-odds, when the user has the vertical or a targeted interest
POSITION_SLOPE = -0.06  # log-odds per slot further down the feed
OS_EFFECT = {"ios": 0.15, "android": 0.0}
AGE_EFFECT = {
    "13-17": 0.2, "18-24": 0.25, "25-34": 0.1, "35-44": 0.0, "45-54": -0.15, "55+": -0.3,
}  # fmt: skip
# Log-odds by the hour on the viewer's wall clock: people click more in the evening.
EVENING_HOURS = range(18, 23)
EVENING_BOOST = 0.2
NIGHT_HOURS = range(1, 6)
NIGHT_EFFECT = -0.2
MIN_TRUE_CTR = 0.0005
MAX_TRUE_CTR = 0.3


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _uniform_from(*parts: object) -> float:
    """A number in (0, 1) fixed by ``parts``, stable across processes and releases."""
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64


class ClickModel:
    """The hidden truth of who clicks what: logistic in a handful of effects.

    The quality of each ad group is drawn from ``seed`` and its id (not from a shared random
    stream), so the model needs no list of ad groups and gives every ad group the same quality
    however many others there are.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._quality: dict[str, float] = {}

    def quality(self, ad_group_id: str) -> float:
        """The ad group's hidden effect, in log-odds, normally distributed across ad groups."""
        if ad_group_id not in self._quality:
            uniform = _uniform_from("quality", self.seed, ad_group_id)
            self._quality[ad_group_id] = NormalDist(0.0, QUALITY_SPREAD).inv_cdf(uniform)
        return self._quality[ad_group_id]

    def probability(self, user: User, ad_group: AdGroup, position: int, now: datetime) -> float:
        log_odds = (
            _logit(BASE_CTR)
            + self.quality(ad_group.ad_group_id)
            + (INTEREST_BOOST if _interested(user, ad_group) else 0.0)
            + POSITION_SLOPE * position
            + OS_EFFECT.get(user.os or "", 0.0)
            + AGE_EFFECT.get(user.age_group or "", 0.0)
            + _time_of_day_effect(user, now)
        )
        probability = 1 / (1 + math.exp(-log_odds))
        return min(max(probability, MIN_TRUE_CTR), MAX_TRUE_CTR)

    def click(
        self,
        user: User,
        ad_group: AdGroup,
        position: int,
        now: datetime,
        rng: np.random.Generator,
    ) -> bool:
        return bool(rng.random() < self.probability(user, ad_group, position, now))


def _time_of_day_effect(user: User, now: datetime) -> float:
    hour = features.viewer_clock(now, user.timezone).hour
    if hour in EVENING_HOURS:
        return EVENING_BOOST
    if hour in NIGHT_HOURS:
        return NIGHT_EFFECT
    return 0.0


def _interested(user: User, ad_group: AdGroup) -> bool:
    relevant = ad_group.targeting.interests | {advertiser_vertical(ad_group.advertiser_id)}
    return not relevant.isdisjoint(user.interests)


# ----------------------------------------------------------------------------- impressions


@dataclass(frozen=True, slots=True)
class ImpressionRecord:
    user: User
    ad_group: AdGroup
    position: int
    at: datetime
    clicked: bool
    true_p: float  # the click model's probability: what a perfect predictor would say


def simulate_impressions(
    users: Sequence[User],
    ad_groups: Sequence[AdGroup],
    n: int,
    seed: int,
    now: datetime,
    *,
    click_model: ClickModel | None = None,
) -> list[ImpressionRecord]:
    """``n`` impressions of random ad groups to random users at random positions (0-15) over
    the day before ``now``, oldest first, each with a click drawn from ``click_model``
    (by default ``ClickModel(seed)``).

    Pairs ignore targeting on purpose: like an exploration slice, it shows the model users
    with and without the targeted interests.
    """
    model = click_model if click_model is not None else ClickModel(seed)
    rng = np.random.default_rng([seed, 3])
    user_indices = rng.integers(len(users), size=n)
    ad_group_indices = rng.integers(len(ad_groups), size=n)
    positions = rng.integers(0, MAX_POSITION + 1, size=n)
    seconds_before_now = np.sort(rng.integers(0, 24 * 3600, size=n))[::-1]
    draws = rng.random(n)
    records = []
    for row in range(n):
        user = users[user_indices[row]]
        ad_group = ad_groups[ad_group_indices[row]]
        position = int(positions[row])
        at = now - timedelta(seconds=int(seconds_before_now[row]))
        true_p = model.probability(user, ad_group, position, at)
        records.append(
            ImpressionRecord(user, ad_group, position, at, bool(draws[row] < true_p), true_p)
        )
    return records


def training_rows(records: Sequence[ImpressionRecord]) -> TrainingRows:
    """The features and labels of ``records``, built by the serving feature code."""
    recorder = HistoryRecorder()
    rows = []
    # In time order, each row sees only the impressions and clicks before it.
    for record in records:
        rows.append(
            features.vectorize(
                record.user,
                record.ad_group,
                record.position,
                record.at,
                recorder.snapshot_of(record.ad_group),
            )
        )
        recorder.observe(record.ad_group, record.clicked)
    X = np.array(rows, dtype=np.float64).reshape(len(rows), len(features.FEATURE_NAMES))
    y = np.fromiter((record.clicked for record in records), dtype=np.float64, count=len(records))
    return TrainingRows(X=X, y=y)

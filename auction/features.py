"""The CTR model's features: one definition, used both to train and to serve.

A model only makes sense with the feature code it was trained on, so the names and the version
of this encoding are hashed into ``FEATURE_SPEC_HASH``; bump ``FEATURE_SPEC_VERSION`` whenever
the meaning of a column changes (a vocabulary, a bucket count, a transform), even if the names
stay the same.

Unknown values are encoded as -1: LightGBM reads negative categories as missing, which is what
an unknown age group or operating system is.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from auction.history import EMPTY_HISTORY, CtrHistory
from auction.types import CPC, AdGroup, User

FEATURE_SPEC_VERSION = "ctr-features-v4"

FEATURE_NAMES: tuple[str, ...] = (
    "position",
    # The hour (0-23) and weekday (0 = Monday) on the viewer's wall clock: in their time zone
    # when the feed service names it, in UTC otherwise.
    "hour_local",
    "weekday_local",
    "user_os",
    "user_gender",
    "user_age_group",
    "user_country_bucket",
    "user_language_bucket",
    "interest_matches",
    "targets_interests",
    # 1 if the viewer has the advertiser's industry among their interests, 0 if not, -1 if
    # the advertiser named none.
    "industry_match",
    "billing_is_cpc",
    "objective",
    "log_bid_micros",
    # From auction.history: click-through rates shrunk towards the level above, and volume.
    "history_ad_group_ctr",
    "history_ad_group_log_impressions",
    "history_advertiser_ctr",
    "history_advertiser_log_impressions",
)

CATEGORICAL_FEATURES: tuple[str, ...] = (
    "user_os",
    "user_gender",
    "user_age_group",
    "user_country_bucket",
    "user_language_bucket",
    "objective",
)

UNKNOWN = -1
OS_CODES = {"android": 0, "ios": 1}
GENDER_CODES = {"female": 0, "male": 1, "other": 2}
AGE_GROUP_CODES = {"13-17": 0, "18-24": 1, "25-34": 2, "35-44": 3, "45-54": 4, "55+": 5}
OBJECTIVE_CODES = {"TRAFFIC": 0, "VIDEO_VIEWS": 1, "REACH": 2}
LOCALE_BUCKETS = 64


def feature_spec_hash(names: Sequence[str], version: str = FEATURE_SPEC_VERSION) -> str:
    """sha256 hex of the version and the names, one per line (names never contain newlines)."""
    payload = "\n".join((version, *names))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


FEATURE_SPEC_HASH = feature_spec_hash(FEATURE_NAMES)


@lru_cache(maxsize=65_536)
def stable_bucket(namespace: str, value: str, buckets: int) -> int:
    """A bucket that is the same in every process and release (``hash()`` is salted per
    process). The namespace keeps two features from sharing collisions."""
    digest = hashlib.sha256(f"{namespace}\x00{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def _code(vocabulary: dict[str, int], value: str | None) -> int:
    return UNKNOWN if value is None else vocabulary.get(value, UNKNOWN)


def _locale_bucket(namespace: str, value: str | None) -> int:
    if not value:
        return UNKNOWN
    return stable_bucket(namespace, value.upper(), LOCALE_BUCKETS)


def viewer_clock(now: datetime, timezone: str | None) -> datetime:
    """``now`` on the wall clock of ``timezone`` (an IANA name; None is UTC)."""
    # The platform's clocks are UTC; a naive datetime is taken to be UTC rather than the
    # server's local time, which would shift the hour feature from one host to the next.
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC if timezone is None else ZoneInfo(timezone))


def _time_features(now: datetime, timezone: str | None) -> list[float]:
    local = viewer_clock(now, timezone)
    return [float(local.hour), float(local.weekday())]


def _user_features(user: User) -> list[float]:
    return [
        float(_code(OS_CODES, user.os)),
        float(_code(GENDER_CODES, user.gender)),
        float(_code(AGE_GROUP_CODES, user.age_group)),
        float(_locale_bucket("country", user.country)),
        float(_locale_bucket("language", user.language)),
    ]


def _flat_rows(
    user: User,
    ad_groups: Sequence[AdGroup],
    positions: Sequence[int],
    now: datetime,
    history: CtrHistory,
) -> list[float]:
    """The feature rows of ``ad_groups`` one after another, in the order of
    ``FEATURE_NAMES``: the one definition behind ``vectorize`` (training, logging) and
    ``matrix`` (serving), so the two cannot drift apart.

    What depends only on the request is computed once, and the per-candidate part is one
    loop over flat values: the auction builds 50 or more rows per request, and calls and
    small lists per row would cost more than the arithmetic."""
    shared = (*_time_features(now, user.timezone), *_user_features(user))
    interests = user.interests
    log1p = math.log1p
    values: list[float] = []
    extend = values.extend
    for ad_group, position, history_row in zip(
        ad_groups, positions, history.features_of(ad_groups), strict=True
    ):
        targeted = ad_group.targeting.interests
        industry = ad_group.industry
        values.append(float(position))
        extend(shared)
        extend(
            (
                float(len(targeted & interests)),
                1.0 if targeted else 0.0,
                -1.0 if industry is None else 1.0 if industry in interests else 0.0,
                1.0 if ad_group.billing_event == CPC else 0.0,
                float(_code(OBJECTIVE_CODES, ad_group.objective)),
                # A model input, not money: the log only tames the scale (CPM and CPC bids
                # differ ~100x).
                log1p(max(ad_group.bid_micros, 0)),
            )
        )
        extend(history_row)
    return values


def vectorize(
    user: User,
    ad_group: AdGroup,
    position: int,
    now: datetime,
    history: CtrHistory = EMPTY_HISTORY,
) -> list[float]:
    """One row, in the order of ``FEATURE_NAMES``."""
    return _flat_rows(user, (ad_group,), (position,), now, history)


def matrix(
    user: User,
    ad_groups: Sequence[AdGroup],
    positions: Sequence[int],
    now: datetime,
    history: CtrHistory = EMPTY_HISTORY,
) -> np.ndarray:
    """The rows of one request, float64, shape (len(ad_groups), len(FEATURE_NAMES)); row i is
    exactly ``vectorize(user, ad_groups[i], positions[i], now, history)``."""
    if len(ad_groups) != len(positions):
        raise ValueError(f"{len(ad_groups)} ad groups but {len(positions)} positions")
    values = _flat_rows(user, ad_groups, positions, now, history)
    return np.array(values, dtype=np.float64).reshape(len(ad_groups), len(FEATURE_NAMES))

"""Python's "$" also matches before a final newline, so "^...$" with re.match accepts
"value\n". Every pattern that checks input must match the whole value."""

from __future__ import annotations

import marshmallow as ma
import pytest

from adsmanager import request_ids
from adsmanager.api.auction.schemas import OPAQUE
from adsmanager.api.common import FullMatch
from adsmanager.db.base import is_well_formed_id
from adsmanager.services import creators, csv_import, payout_runs, statements, targeting, users
from adsmanager.services.creators import PLATFORM_ID_PATTERN, STRIPE_ACCOUNT_PATTERN
from adsmanager.services.errors import InvalidInput


def test_full_match_refuses_a_trailing_newline_and_keeps_the_published_pattern():
    validator = FullMatch(r"^[a-z]{1,3}$", error="letters")
    assert validator("abc") == "abc"
    for value in ("abc\n", "ab\n", "\nab", "abcd", ""):
        with pytest.raises(ma.ValidationError, match="letters"):
            validator(value)
    assert validator.regex.pattern == r"^[a-z]{1,3}$"  # what openapi.yaml shows (ECMA regex)
    assert isinstance(OPAQUE, FullMatch)
    assert OPAQUE.regex.pattern == r"^[A-Za-z0-9._:@/+=-]{1,128}$"
    with pytest.raises(ma.ValidationError):
        OPAQUE("r" * 128 + "\n")


def test_the_published_platform_patterns_keep_their_ecma_form():
    assert PLATFORM_ID_PATTERN == r"^[A-Za-z0-9_.:-]{1,64}$"
    assert STRIPE_ACCOUNT_PATTERN == r"^acct_[A-Za-z0-9_]{1,250}$"


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (creators.is_platform_id, "alice", "alice\n"),
        (is_well_formed_id, "adv_01abc", "adv_01abc\n"),
        (lambda value: users._EMAIL_SHAPE.match(value), "a@example.com", "a@example.com\n"),
        (lambda value: request_ids._ACCEPTABLE.match(value), "feed-req-1234", "feed-req-1234\n"),
        (lambda value: csv_import._INTEGER.match(value), "12", "12\n"),
        (lambda value: csv_import._DATE.match(value), "2026-01-15", "2026-01-15\n"),
        (lambda value: targeting.slug_error(value) is None, "gaming", "gaming\n"),
    ],
)
def test_a_trailing_newline_is_refused(check, good, bad):
    assert check(good)
    assert not check(bad)


def test_a_stripe_account_with_a_trailing_newline_is_a_problem():
    values = {
        "id": "alice",
        "country": "US",
        "verified_age": None,
        "followers": 1,
        "standing": "GOOD",
        "joined_on": None,
        "stripe_account_id": "acct_1Alice",
    }
    assert creators.problems(values) == {}
    assert set(creators.problems({**values, "stripe_account_id": "acct_1Alice\n"})) == {
        "stripe_account_id"
    }


@pytest.mark.parametrize("period", ["2026-11\n", "2026-11-27\n"])
def test_a_period_with_a_trailing_newline_is_refused(period):
    assert payout_runs.parse_period(period.strip()).label == period.strip()
    with pytest.raises(InvalidInput):
        payout_runs.parse_period(period)


def test_a_month_with_a_trailing_newline_is_refused():
    assert statements.parse_month("2026-11").month == 11
    with pytest.raises(InvalidInput):
        statements.parse_month("2026-11\n")

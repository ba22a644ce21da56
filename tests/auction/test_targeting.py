"""The targeting index against hand-worked cases and a brute-force reference matcher."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auction.targeting import TargetingIndex
from auction.types import CPC, AdGroup, Budget, Targeting, User
from tests.auction.builders import AD

COUNTRIES = ("US", "CA", "FR", "DE", "BR")
LANGUAGES = ("en", "fr", "de", "pt")
AGE_GROUPS = ("13-17", "18-24", "25-34", "35-44", "45-54", "55+")
GENDERS = ("female", "male", "other")
OPERATING_SYSTEMS = ("android", "ios")
INTERESTS = ("cooking", "travel", "music", "sports", "gaming", "fashion")


def make_ad_group(ad_group_id: str = "adg-1", **targeting: object) -> AdGroup:
    """An ad group that differs from the others only by id and targeting."""
    return AdGroup(
        ad_group_id=ad_group_id,
        campaign_id="cmp-1",
        advertiser_id="adv-1",
        objective="TRAFFIC",
        billing_event=CPC,
        bid_micros=1_500_000,
        targeting=Targeting(**{name: frozenset(values) for name, values in targeting.items()}),
        ads=(AD,),
        timezone="America/New_York",
        campaign_start=datetime(2026, 1, 1, tzinfo=UTC),
        campaign_end=None,
        campaign_budget=Budget("DAILY", 50_000_000),
    )


def wants(ad_group: AdGroup, user: User) -> bool:
    """The reference: the targeting rules read straight off the Targeting docstring."""
    targeting = ad_group.targeting
    single_valued = (
        (targeting.countries, user.country),
        (targeting.languages, user.language),
        (targeting.age_groups, user.age_group),
        (targeting.genders, user.gender),
        (targeting.os, user.os),
    )
    for listed, value in single_valued:
        if listed and value not in listed:
            return False
    return not targeting.interests or bool(targeting.interests & user.interests)


def ids(ad_groups: list[AdGroup]) -> list[str]:
    return [ad_group.ad_group_id for ad_group in ad_groups]


FULL_USER = User(
    id="u-1",
    country="US",
    language="en",
    age_group="18-24",
    gender="female",
    os="ios",
    interests=frozenset({"cooking"}),
)
UNKNOWN_USER = User(id="u-2")


def test_an_empty_index_has_no_candidates():
    index = TargetingIndex([])
    assert len(index) == 0
    assert index.candidates(FULL_USER) == []


def test_len_counts_the_ad_groups():
    assert len(TargetingIndex([make_ad_group(f"adg-{i}") for i in range(7)])) == 7


@pytest.mark.parametrize("user", [FULL_USER, UNKNOWN_USER])
def test_empty_targeting_matches_everyone(user):
    everyone = make_ad_group("everyone")
    assert TargetingIndex([everyone]).candidates(user) == [everyone]


@pytest.mark.parametrize(
    ("dimension", "attribute", "wanted", "other"),
    [
        ("countries", "country", "US", "FR"),
        ("languages", "language", "en", "de"),
        ("age_groups", "age_group", "18-24", "55+"),
        ("genders", "gender", "female", "male"),
        ("os", "os", "ios", "android"),
    ],
)
def test_each_dimension_narrows(dimension, attribute, wanted, other):
    narrow = make_ad_group("narrow", **{dimension: {wanted}})
    everyone = make_ad_group("everyone")
    index = TargetingIndex([narrow, everyone])

    def user(value):
        return User(id="u", **{attribute: value})

    assert ids(index.candidates(user(wanted))) == ["narrow", "everyone"]
    assert ids(index.candidates(user(other))) == ["everyone"]
    assert ids(index.candidates(user(None))) == ["everyone"]


def test_a_dimension_with_several_values_matches_any_of_them():
    north_america = make_ad_group("na", countries={"US", "CA"})
    index = TargetingIndex([north_america])
    assert ids(index.candidates(User(id="u", country="US"))) == ["na"]
    assert ids(index.candidates(User(id="u", country="CA"))) == ["na"]
    assert index.candidates(User(id="u", country="FR")) == []


def test_unknown_user_values_match_only_the_ad_groups_that_want_everyone():
    ad_groups = [
        make_ad_group("country", countries={"US"}),
        make_ad_group("everyone-1"),
        make_ad_group("gender", genders={"male", "female", "other"}),
        make_ad_group("interests", interests={"cooking"}),
        make_ad_group("everyone-2"),
        make_ad_group("os", os={"android", "ios"}),
    ]
    assert ids(TargetingIndex(ad_groups).candidates(UNKNOWN_USER)) == ["everyone-1", "everyone-2"]


def test_a_value_no_ad_group_lists_matches_only_everyone_on_that_dimension():
    ad_groups = [make_ad_group("us", countries={"US"}), make_ad_group("everyone")]
    user = User(id="u", country="JP")
    assert ids(TargetingIndex(ad_groups).candidates(user)) == ["everyone"]


def test_interests_match_when_the_user_has_at_least_one():
    food_or_travel = make_ad_group("food-or-travel", interests={"cooking", "travel"})
    everyone = make_ad_group("everyone")
    index = TargetingIndex([food_or_travel, everyone])

    def user(*interests):
        return User(id="u", interests=frozenset(interests))

    assert ids(index.candidates(user("travel", "music"))) == ["food-or-travel", "everyone"]
    assert ids(index.candidates(user("cooking", "travel"))) == ["food-or-travel", "everyone"]
    assert ids(index.candidates(user("music"))) == ["everyone"]
    assert ids(index.candidates(user())) == ["everyone"]


def test_all_dimensions_must_match():
    ad_group = make_ad_group(
        "narrow", countries={"US"}, os={"ios"}, age_groups={"18-24"}, interests={"cooking"}
    )
    index = TargetingIndex([ad_group])
    assert ids(index.candidates(FULL_USER)) == ["narrow"]
    for mismatch in (
        {"country": "CA"},
        {"os": "android"},
        {"age_group": "25-34"},
        {"interests": frozenset({"music"})},
    ):
        assert index.candidates(replace(FULL_USER, **mismatch)) == [], mismatch


@pytest.mark.parametrize("count", [1, 7, 8, 9, 63, 64, 65, 300])
def test_results_keep_the_order_given_whatever_the_size(count):
    # Ids in a shuffled order so that sorting by id would not pass by accident; every third
    # ad group wants France only, the rest want everyone.
    numbers = list(range(count))
    random.Random(count).shuffle(numbers)
    ad_groups = [
        make_ad_group(f"adg-{number}", **({"countries": {"FR"}} if position % 3 == 0 else {}))
        for position, number in enumerate(numbers)
    ]
    index = TargetingIndex(ad_groups)
    french = User(id="u", country="FR")
    german = User(id="u", country="DE")
    assert index.candidates(french) == ad_groups
    expected_german = [ad_group for position, ad_group in enumerate(ad_groups) if position % 3]
    assert index.candidates(german) == expected_german


def test_the_index_returns_the_very_ad_group_objects_it_was_given():
    twins = [make_ad_group("same"), make_ad_group("same")]
    found = TargetingIndex(twins).candidates(UNKNOWN_USER)
    assert len(found) == 2
    assert found[0] is twins[0] and found[1] is twins[1]


def test_changing_the_input_list_afterwards_does_not_change_the_index():
    ad_groups = [make_ad_group("a"), make_ad_group("b")]
    index = TargetingIndex(ad_groups)
    ad_groups.append(make_ad_group("c"))
    ad_groups.reverse()
    assert len(index) == 2
    assert ids(index.candidates(UNKNOWN_USER)) == ["a", "b"]


def _subset(rng: random.Random, values, share_everyone: float) -> frozenset[str]:
    if rng.random() < share_everyone:
        return frozenset()
    return frozenset(rng.sample(values, rng.randint(1, len(values))))


def _random_ad_group(rng: random.Random, number: int) -> AdGroup:
    return make_ad_group(
        f"adg-{number}",
        countries=_subset(rng, COUNTRIES, 0.3),
        languages=_subset(rng, LANGUAGES, 0.3),
        age_groups=_subset(rng, AGE_GROUPS, 0.3),
        genders=_subset(rng, GENDERS, 0.3),
        os=_subset(rng, OPERATING_SYSTEMS, 0.3),
        interests=frozenset(rng.sample(INTERESTS, rng.randint(0, 3))),
    )


def _random_user(rng: random.Random) -> User:
    # "XX" is a value no ad group lists; None is an unknown value.
    def pick(values):
        return rng.choice((*values, "XX", None))

    return User(
        id="u",
        country=pick(COUNTRIES),
        language=pick(LANGUAGES),
        age_group=pick(AGE_GROUPS),
        gender=pick(GENDERS),
        os=pick(OPERATING_SYSTEMS),
        interests=frozenset(rng.sample((*INTERESTS, "knitting"), rng.randint(0, 4))),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agrees_with_the_reference_on_thousands_of_random_ad_groups(seed):
    rng = random.Random(seed)
    ad_groups = [_random_ad_group(rng, number) for number in range(3_000)]
    index = TargetingIndex(ad_groups)
    users = [_random_user(rng) for _ in range(200)] + [UNKNOWN_USER]
    sizes = set()
    for user in users:
        expected = [ad_group for ad_group in ad_groups if wants(ad_group, user)]
        assert index.candidates(user) == expected, user
        sizes.add(len(expected))
    # The users must have exercised both sparse and dense results (the index decodes
    # them differently above one ad group in 12).
    assert min(sizes) < 50 and max(sizes) > 3_000 // 12


def _targeting_values(values):
    return st.frozensets(st.sampled_from(values), max_size=len(values))


targetings = st.builds(
    Targeting,
    countries=_targeting_values(COUNTRIES),
    languages=_targeting_values(LANGUAGES),
    age_groups=_targeting_values(AGE_GROUPS),
    genders=_targeting_values(GENDERS),
    os=_targeting_values(OPERATING_SYSTEMS),
    interests=st.frozensets(st.sampled_from(INTERESTS), max_size=3),
)


def _user_value(values):
    return st.one_of(st.none(), st.sampled_from((*values, "XX")))


users = st.builds(
    User,
    id=st.just("u"),
    country=_user_value(COUNTRIES),
    language=_user_value(LANGUAGES),
    age_group=_user_value(AGE_GROUPS),
    gender=_user_value(GENDERS),
    os=_user_value(OPERATING_SYSTEMS),
    interests=st.frozensets(st.sampled_from((*INTERESTS, "knitting")), max_size=4),
)


@given(st.lists(targetings, max_size=80), st.lists(users, min_size=1, max_size=8))
def test_agrees_with_the_reference_on_any_targeting(targeting_list, user_list):
    ad_groups = [
        replace(make_ad_group(f"adg-{number}"), targeting=targeting)
        for number, targeting in enumerate(targeting_list)
    ]
    index = TargetingIndex(ad_groups)
    for user in user_list:
        assert index.candidates(user) == [g for g in ad_groups if wants(g, user)]


def test_lazy_lookup_and_masks_agree_with_the_list():
    rng = random.Random(11)
    groups = [
        make_ad_group(f"adg_{i}", countries=rng.sample(["US", "DE", "FR"], rng.randint(0, 2)))
        for i in range(300)
    ]
    index = TargetingIndex(groups)
    user = User(id="u", country="US")

    def is_even(g: AdGroup) -> bool:
        return int(g.ad_group_id.split("_")[1]) % 2 == 0

    even = index.mask(is_even)
    assert list(index.iter_candidates(user)) == index.candidates(user)
    expected = [g for g in index.candidates(user) if is_even(g)]
    assert index.candidates(user, within=even) == expected
    assert list(index.iter_candidates(user, within=even)) == expected
    assert index.candidates(user, within=0) == []

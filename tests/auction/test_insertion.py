"""Ad-load policy, slots and blending, checked against positions counted by hand."""

from __future__ import annotations

import pytest

from auction.insertion import (
    AdLoadLimits,
    AdLoadOutOfRange,
    apply_overrides,
    blend,
    slot_positions,
    slots_for,
)
from auction.pricing import Slot, run_auction
from auction.types import CPM, AdLoadPolicy, Bid, FeedItem, Placement, ReservePrices

DEFAULT = AdLoadPolicy()  # first_position 3, min_gap 4, max_ads 3


def organic(count: int) -> list[FeedItem]:
    return [FeedItem(video_id=f"v{i}", creator_id=f"c{i}") for i in range(count)]


def placement(position: int, ad_group_id: str = "ag") -> Placement:
    bid = Bid(ad_group_id, f"adv_{ad_group_id}", CPM, 2_000_000, 0.01)
    return Placement(bid=bid, position=position, ecpm_micros=2_000_000, price_micros=1_000_000)


# --- slot_positions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feed_length", "policy", "expected"),
    [
        # before organic #3 -> index 3; before #7 -> index 7 + 1 ad = 8; #11 does not exist
        (10, AdLoadPolicy(first_position=3, min_gap=4, max_ads=3), [3, 8]),
        # organic #3, #7, #11 -> 3, 7 + 1, 11 + 2; #15 would be a fourth ad
        (20, DEFAULT, [3, 8, 13]),
        (2, DEFAULT, []),  # shorter than first_position
        (3, DEFAULT, []),  # equal to it: no organic #3 to sit before
        (4, DEFAULT, [3]),  # just long enough for one ad
        (7, DEFAULT, [3]),  # organic #7 missing
        (8, DEFAULT, [3, 8]),  # just long enough for two
        (0, DEFAULT, []),
        (20, AdLoadPolicy(first_position=3, min_gap=4, max_ads=0), []),
        # organic #1, #3, #5, #7, #9 -> 1, 3+1, 5+2, 7+3, 9+4; #11 is past max_ads
        (12, AdLoadPolicy(first_position=1, min_gap=2, max_ads=5), [1, 4, 7, 10, 13]),
        # an ad may open the page: organic #0, #2, #4 -> 0, 2+1, 4+2
        (5, AdLoadPolicy(first_position=0, min_gap=2, max_ads=5), [0, 3, 6]),
    ],
)
def test_slot_positions(feed_length, policy, expected):
    assert slot_positions(feed_length, policy) == expected


@pytest.mark.parametrize(
    ("feed_length", "policy"),
    [
        (-1, DEFAULT),
        (10, AdLoadPolicy(first_position=-1)),
        (10, AdLoadPolicy(min_gap=0)),
        (10, AdLoadPolicy(max_ads=-1)),
    ],
)
def test_impossible_policies_are_refused(feed_length, policy):
    with pytest.raises(ValueError):
        slot_positions(feed_length, policy)


# --- slots_for -----------------------------------------------------------------------------


def test_slots_carry_the_organic_items_around_them():
    feed = organic(10)
    assert slots_for(feed, DEFAULT) == [
        Slot(position=3, neighbours=(feed[2], feed[3])),
        Slot(position=8, neighbours=(feed[6], feed[7])),
    ]


def test_a_slot_opening_the_page_has_only_the_item_after():
    feed = organic(3)
    assert slots_for(feed, AdLoadPolicy(first_position=0, min_gap=2, max_ads=5)) == [
        Slot(position=0, neighbours=(feed[0],)),
        Slot(position=3, neighbours=(feed[1], feed[2])),
    ]


def test_a_neighbours_category_is_compared_in_lower_case():
    feed = [
        FeedItem(f"v{i}", f"c{i}", category) for i, category in enumerate(["A", "Gambling", None])
    ]
    [slot] = slots_for(feed, AdLoadPolicy(first_position=2, min_gap=2, max_ads=1))
    assert slot.neighbours == (FeedItem("v1", "c1", "gambling"), feed[2])


# --- blend ---------------------------------------------------------------------------------


def test_blend_puts_each_ad_at_its_position():
    feed = organic(10)
    first, second = placement(3, "a"), placement(8, "b")
    expected = [*feed[:3], first, *feed[3:7], second, *feed[7:]]
    assert blend(feed, [first, second]) == expected
    assert blend(feed, [second, first]) == expected


def test_blend_without_ads_is_the_feed():
    feed = organic(5)
    assert blend(feed, []) == feed


def test_each_placement_sits_at_the_index_it_names():
    feed = organic(20)
    blended = blend(feed, [placement(3, "a"), placement(8, "b"), placement(13, "c")])
    assert len(blended) == 23
    for index, item in enumerate(blended):
        if isinstance(item, Placement):
            assert item.position == index


@pytest.mark.parametrize(
    "positions",
    [
        [3],  # 3 organic items: an ad at 3 would close the page
        [1, 1],  # two ads in one place
        [-1],
    ],
)
def test_blend_refuses_impossible_positions(positions):
    with pytest.raises(ValueError):
        blend(organic(3), [placement(p, f"ag{i}") for i, p in enumerate(positions)])


RESERVES = ReservePrices(cpm_micros=1_000_000, cpc_micros=100_000)


def shy_of(creator_id: str, ad_group_id: str, bid_micros: int) -> Bid:
    return Bid(
        ad_group_id, f"adv_{ad_group_id}", CPM, bid_micros, 0.01,
        excluded_creators=frozenset({creator_id}),
    )  # fmt: skip


@pytest.mark.parametrize("empty_slot", [0, 1])
def test_an_empty_slot_leaves_later_ads_by_the_item_they_were_priced_next_to(empty_slot):
    feed = organic(20)
    slots = slots_for(feed, DEFAULT)  # 3 (v2|v3), 8 (v6|v7), 13 (v10|v11)
    blocked = slots[empty_slot].neighbours[-1].creator_id
    bids = [shy_of(blocked, "a", 5_000_000), shy_of(blocked, "b", 4_000_000)]
    placements = run_auction(bids, slots, RESERVES)
    blended = blend(feed, placements)

    filled = [s for i, s in enumerate(slots) if i != empty_slot]
    assert len(placements) == 2
    for each, placed in zip(filled, placements, strict=True):
        index = blended.index(placed)
        assert placed.position == index
        # still right before the organic item its slot was priced next to
        assert blended[index + 1] == each.neighbours[-1]
    # by hand: slot 0 empty -> before v7 at 7 + 0 ads = 7 and before v11 at 11 + 1 ad = 12;
    # slot 1 empty -> before v3 at 3 and before v11 at 11 + 1 ad = 12
    assert [p.position for p in placements] == ([7, 12] if empty_slot == 0 else [3, 12])


# --- apply_overrides -----------------------------------------------------------------------


def test_overrides_within_limits_replace_the_fields():
    policy = apply_overrides(DEFAULT, AdLoadLimits(), first_position=1, max_ads=5)
    assert policy == AdLoadPolicy(first_position=1, min_gap=4, max_ads=5)


def test_none_leaves_a_field_as_it_is():
    assert apply_overrides(DEFAULT, AdLoadLimits(), min_gap=None) == DEFAULT
    assert apply_overrides(DEFAULT, AdLoadLimits()) == DEFAULT


@pytest.mark.parametrize(
    "overrides",
    [
        {"first_position": 1},
        {"first_position": 20},
        {"min_gap": 2},
        {"min_gap": 20},
        {"max_ads": 0},
        {"max_ads": 5},
    ],
)
def test_the_limits_themselves_are_allowed(overrides):
    policy = apply_overrides(DEFAULT, AdLoadLimits(), **overrides)
    [(field, value)] = overrides.items()
    assert getattr(policy, field) == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_position", 0),
        ("first_position", 21),
        ("min_gap", 1),
        ("min_gap", 21),
        ("max_ads", -1),
        ("max_ads", 6),
        ("max_ads", 2.5),
        ("max_ads", True),
    ],
)
def test_overrides_outside_limits_are_refused(field, value):
    with pytest.raises(AdLoadOutOfRange) as error:
        apply_overrides(DEFAULT, AdLoadLimits(), **{field: value})
    assert error.value.field == field
    assert isinstance(error.value, ValueError)


def test_custom_limits_apply():
    with pytest.raises(AdLoadOutOfRange):
        apply_overrides(DEFAULT, AdLoadLimits(max_ads_max=2), max_ads=3)


def test_the_default_policy_is_within_the_default_limits():
    limits = AdLoadLimits()
    assert limits.bounds("first_position") == (1, 20)
    assert limits.bounds("min_gap") == (2, 20)
    assert limits.bounds("max_ads") == (0, 5)
    fields = {"first_position": 3, "min_gap": 4, "max_ads": 3}
    assert apply_overrides(AdLoadPolicy(), limits, **fields) == AdLoadPolicy()


def test_unknown_settings_are_refused():
    with pytest.raises(TypeError):
        apply_overrides(DEFAULT, AdLoadLimits(), ads_per_page=2)


def test_limits_with_the_minimum_above_the_maximum_are_refused():
    with pytest.raises(ValueError):
        AdLoadLimits(max_ads_min=3, max_ads_max=2)

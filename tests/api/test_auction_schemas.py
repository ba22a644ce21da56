"""The auction request's fast loader accepts only what AuctionRequestSchema accepts, and
returns exactly what the schema returns; everything else falls back to the schema."""

import copy
import random

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adsmanager.api.auction.schemas import AuctionRequestSchema, fast_load
from auction import simulator

USER = {
    "id": "user-1",
    "country": "US",
    "language": "en",
    "age_group": "18-24",
    "gender": "female",
    "os": "ios",
    "interests": ["gaming", "food"],
    "timezone": "America/New_York",
}
FEED = [{"video_id": f"v{i}", "creator_id": f"c{i}", "category": "comedy"} for i in range(12)]
BODY = {"request_id": "req-1", "user": USER, "feed": FEED}


def schema_load(body):
    """What marshmallow alone makes of ``body``: the loaded dict, or the error."""
    try:
        return ma.Schema.load(AuctionRequestSchema(), copy.deepcopy(body), unknown=ma.RAISE)
    except ma.ValidationError as error:
        return error


def check(body):
    expected = schema_load(body)
    fast = fast_load(copy.deepcopy(body))
    if fast is not None:
        assert not isinstance(expected, ma.ValidationError), (body, expected)
        assert fast == expected
    return fast, expected


@pytest.mark.parametrize(
    "body",
    [
        BODY,
        {**BODY, "ad_load": {"first_position": 2, "min_gap": 3, "max_ads": 1}},
        {**BODY, "ad_load": {"max_ads": 0}},
        {**BODY, "ad_load": None},
        {**BODY, "user": {"id": "u"}},
        {**BODY, "user": {**USER, "country": None, "os": None, "interests": []}},
        {**BODY, "user": {**USER, "timezone": None}},
        {**BODY, "feed": []},
        {**BODY, "feed": [{"video_id": "v", "creator_id": "c"}]},
        {**BODY, "feed": [{"video_id": "v", "creator_id": "c", "category": "é" * 64}]},
    ],
)
def test_well_formed_requests_take_the_fast_path(body):
    fast, expected = check(body)
    assert fast is not None and fast == expected


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "extra": 1},
        {"user": USER, "feed": FEED},
        {**BODY, "request_id": "has space"},
        {**BODY, "request_id": "x" * 129},
        {**BODY, "request_id": "x" * 128 + "\n"},  # Python's "$" matches before a final "\n"
        {**BODY, "request_id": "req-1\n"},
        {**BODY, "user": {**USER, "id": "user-1\n"}},
        {**BODY, "feed": [{"video_id": "v\n", "creator_id": "c"}]},
        {**BODY, "feed": [{"video_id": "v", "creator_id": "c\n"}]},
        {**BODY, "user": {**USER, "country": "USA"}},
        {**BODY, "user": {**USER, "age_group": "99+"}},
        {**BODY, "user": {**USER, "interests": None}},
        {**BODY, "user": {**USER, "interests": ["a\x00b"]}},
        {**BODY, "user": {**USER, "interests": ["\ud800"]}},
        {**BODY, "user": {**USER, "interests": [""]}},
        {**BODY, "user": {**USER, "interests": ["i"] * 101}},
        {**BODY, "user": {**USER, "nickname": "x"}},
        {**BODY, "user": {**USER, "timezone": ""}},
        {**BODY, "user": {**USER, "timezone": "x" * 65}},
        {**BODY, "user": {**USER, "timezone": -5}},
        {**BODY, "feed": FEED * 17},
        {**BODY, "feed": [{"video_id": "v", "creator_id": "c", "category": ""}]},
        {**BODY, "feed": [{"video_id": "v"}]},
        {**BODY, "ad_load": {"max_ads": True}},
        {**BODY, "ad_load": {"max_ads": 1.5}},
        {**BODY, "ad_load": {"max_ads": "1"}},
        {**BODY, "ad_load": {"gap": 1}},
        [BODY],
    ],
)
def test_what_the_schema_refuses_never_takes_the_fast_path(body):
    fast, expected = check(body)
    assert fast is None and isinstance(expected, ma.ValidationError)


def test_the_simulated_feed_service_sends_what_the_schema_takes():
    for user in simulator.make_users(50, 3):
        body = {"request_id": "r", "user": simulator.feed_user(user), "feed": FEED}
        fast, expected = check(body)
        assert fast == expected == {**body, "ad_load": None}
        assert fast["user"]["timezone"] == user.timezone is not None


def test_the_route_schema_loads_through_the_fast_path(monkeypatch):
    expected = schema_load(BODY)
    calls = []
    monkeypatch.setattr(ma.Schema, "load", lambda *a, **k: calls.append(a) or {})
    assert AuctionRequestSchema().load(copy.deepcopy(BODY), unknown=ma.RAISE) == expected
    assert calls == []  # marshmallow was not asked
    AuctionRequestSchema().load({"bad": 1}, unknown=ma.RAISE)
    assert len(calls) == 1  # an error is left to marshmallow, which reports it


text = st.one_of(
    st.none(),
    st.integers(-1, 3),
    st.booleans(),
    st.sampled_from(
        ["", "US", "en", "ios", "18-24", "female", "ok-id", "a b", "x" * 129, "ok-id\n"]
    ),
    st.text(max_size=70),
)


def mutate(rng: random.Random, body: dict, value) -> dict:
    """``body`` with one value somewhere in it replaced by ``value`` (or a key added)."""
    body = copy.deepcopy(body)
    targets = [body, body["user"], *body["feed"]]
    if isinstance(body.get("ad_load"), dict):
        targets.append(body["ad_load"])
    target = rng.choice(targets)
    keys = [*target, "unknown_key"]
    if target is body["user"]:
        keys.append("interests[]")
    key = rng.choice(keys)
    if key == "interests[]" and isinstance(target.get("interests"), list):
        target["interests"] = [*target["interests"], value]
    else:
        target[key] = value
    return body


@settings(max_examples=400, deadline=None)
@given(
    value=text,
    seed=st.integers(0, 2**32),
    ad_load=st.one_of(
        st.none(),
        st.dictionaries(
            st.sampled_from(["first_position", "min_gap", "max_ads"]), st.integers(-5, 30)
        ),
    ),
)
def test_fast_path_agrees_with_the_schema_on_any_body(value, seed, ad_load):
    rng = random.Random(seed)
    body = {**BODY, "ad_load": ad_load} if rng.random() < 0.5 else dict(BODY)
    check(body)
    check(mutate(rng, body, value))

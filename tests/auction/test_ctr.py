"""The CTR features, the predictors, training on simulated traffic, and the metrics."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import lightgbm
import numpy as np
import pytest

from auction import features, simulator
from auction.calibration import PositionEffect
from auction.ctr import (
    MAX_PCTR,
    MIN_PCTR,
    ConstantPredictor,
    CtrPredictor,
    LightGBMPredictor,
    TrainingRows,
    auc,
    log_loss,
    train,
    training_params,
)
from auction.types import User

NOW = datetime(2025, 3, 14, 12, 30, tzinfo=UTC)
SEED = 2025
POSITION = features.FEATURE_NAMES.index("position")
TRAIN_IMPRESSIONS = 100_000
HELD_OUT_IMPRESSIONS = 30_000


@pytest.fixture(scope="module")
def market():
    return simulator.make_market(20, 3, SEED, NOW)


@pytest.fixture(scope="module")
def users():
    return simulator.make_users(3_000, SEED)


@pytest.fixture(scope="module")
def impressions(users, market):
    total = TRAIN_IMPRESSIONS + HELD_OUT_IMPRESSIONS
    return simulator.simulate_impressions(users, market, total, SEED, NOW)


@pytest.fixture(scope="module")
def train_rows(impressions):
    return simulator.training_rows(impressions[:TRAIN_IMPRESSIONS])


@pytest.fixture(scope="module")
def held_out(impressions):
    records = impressions[TRAIN_IMPRESSIONS:]
    return simulator.training_rows(records), np.array([record.true_p for record in records])


@pytest.fixture(scope="module")
def model(train_rows):
    return train(train_rows)


@pytest.fixture(scope="module")
def positioned(model, train_rows):
    """The trees (which never split on the position) with the slot's effect fitted on their
    own rows, without a calibration."""
    raw, positions = model.raw_rows(train_rows.X), train_rows.X[:, POSITION]
    effect = PositionEffect.fit((raw, positions, train_rows.y), (raw, positions, train_rows.y))
    return LightGBMPredictor(model.booster, position_effect=effect)


@pytest.fixture(scope="module")
def small_rows(train_rows):
    return TrainingRows(X=train_rows.X[:5_000], y=train_rows.y[:5_000])


def _unknown_user() -> User:
    return User(id="user_unknown")


# ----------------------------------------------------------------------------- features


def test_matrix_rows_are_exactly_the_vectorized_rows(users, market):
    request_users = [*users[:5], _unknown_user()]
    positions = [index % 16 for index in range(len(market))]
    for user in request_users:
        batch = features.matrix(user, market, positions, NOW)
        stacked = np.array(
            [
                features.vectorize(user, ad_group, position, NOW)
                for ad_group, position in zip(market, positions, strict=True)
            ]
        )
        assert batch.shape == (len(market), len(features.FEATURE_NAMES))
        assert batch.dtype in (np.float32, np.float64)
        assert np.array_equal(batch, stacked)


def test_matrix_of_no_candidates_has_no_rows(users):
    assert features.matrix(users[0], [], [], NOW).shape == (0, len(features.FEATURE_NAMES))


def test_matrix_refuses_a_position_count_that_differs(users, market):
    with pytest.raises(ValueError):
        features.matrix(users[0], market[:2], [0], NOW)


def test_feature_spec_hash_is_sha256_of_version_and_names():
    text = "\n".join([features.FEATURE_SPEC_VERSION, *features.FEATURE_NAMES])
    assert hashlib.sha256(text.encode()).hexdigest() == features.FEATURE_SPEC_HASH
    assert re.fullmatch(r"[0-9a-f]{64}", features.FEATURE_SPEC_HASH)


def test_feature_spec_hash_changes_with_the_names_or_the_version():
    names = features.FEATURE_NAMES
    assert features.feature_spec_hash(names) == features.FEATURE_SPEC_HASH
    assert features.feature_spec_hash((*names, "historical_ctr")) != features.FEATURE_SPEC_HASH
    assert features.feature_spec_hash(names[::-1]) != features.FEATURE_SPEC_HASH
    assert features.feature_spec_hash(names, "ctr-features-v0") != features.FEATURE_SPEC_HASH


def test_categorical_features_are_declared_features():
    assert set(features.CATEGORICAL_FEATURES) <= set(features.FEATURE_NAMES)
    assert len(set(features.FEATURE_NAMES)) == len(features.FEATURE_NAMES)


def _feature(row: list[float], name: str) -> float:
    return row[features.FEATURE_NAMES.index(name)]


def test_unknown_user_attributes_are_minus_one(market):
    row = features.vectorize(_unknown_user(), market[0], 3, NOW)
    for name in ("user_os", "user_gender", "user_age_group", "user_country_bucket"):
        assert _feature(row, name) == -1
    odd = User(id="u", os="windows", gender="?", age_group="99+", country="", language=None)
    row = features.vectorize(odd, market[0], 3, NOW)
    for name in ("user_os", "user_gender", "user_age_group", "user_country_bucket"):
        assert _feature(row, name) == -1
    assert _feature(row, "user_language_bucket") == -1


def test_known_user_attributes_have_small_codes(market):
    user = User(id="u", os="ios", gender="male", age_group="55+", country="DE", language="de")
    row = features.vectorize(user, market[0], 0, NOW)
    assert _feature(row, "user_os") == 1
    assert _feature(row, "user_gender") == 1
    assert _feature(row, "user_age_group") == 5
    expected = int.from_bytes(hashlib.sha256(b"country\x00DE").digest()[:8], "big") % 64
    assert _feature(row, "user_country_bucket") == expected
    assert 0 <= _feature(row, "user_language_bucket") < features.LOCALE_BUCKETS


def test_ad_group_features(market):
    cpc = next(group for group in market if group.billing_event == "CPC")
    targeted = replace(
        cpc, targeting=replace(cpc.targeting, interests=frozenset({"pets", "music", "tech"}))
    )
    user = User(id="u", interests=frozenset({"pets", "tech", "cars"}))
    row = features.vectorize(user, targeted, 7, NOW)
    assert _feature(row, "position") == 7
    assert _feature(row, "interest_matches") == 2
    assert _feature(row, "targets_interests") == 1
    assert _feature(row, "billing_is_cpc") == 1
    assert _feature(row, "log_bid_micros") == pytest.approx(math.log1p(cpc.bid_micros))
    # With no history, the ad group starts at the platform's default rate.
    assert _feature(row, "history_ad_group_ctr") == pytest.approx(0.02)
    assert _feature(row, "history_ad_group_log_impressions") == 0
    broad = replace(cpc, targeting=replace(cpc.targeting, interests=frozenset()))
    row = features.vectorize(user, broad, 7, NOW)
    assert _feature(row, "interest_matches") == 0
    assert _feature(row, "targets_interests") == 0


@pytest.mark.parametrize(("industry", "expected"), [("cars", 1), ("travel", 0), (None, -1)])
def test_industry_match_says_whether_the_viewer_has_the_advertisers_industry(
    market, industry, expected
):
    user = User(id="u", interests=frozenset({"pets", "cars"}))
    row = features.vectorize(user, replace(market[0], industry=industry), 0, NOW)
    assert _feature(row, "industry_match") == expected


def test_simulated_advertisers_name_the_industry_the_click_model_rewards(market):
    assert all(g.industry == simulator.advertiser_vertical(g.advertiser_id) for g in market)


def test_time_features_are_on_the_viewers_clock(market):
    # Friday 2025-03-14 23:30 in New York (EDT since 9 March) is Saturday 03:30 UTC, and
    # Saturday 12:30 in Tokyo.
    new_york = datetime(2025, 3, 14, 23, 30, tzinfo=timezone(timedelta(hours=-4)))
    expected = {"America/New_York": (23, 4), "Asia/Tokyo": (12, 5), None: (3, 5)}
    for zone, hour_and_weekday in expected.items():
        row = features.vectorize(User(id="u", timezone=zone), market[0], 0, new_york)
        assert (_feature(row, "hour_local"), _feature(row, "weekday_local")) == hour_and_weekday
    # Across the change to summer time: 06:30 UTC is 01:30 in New York before it, 02:30 after.
    viewer = User(id="u", timezone="America/New_York")
    for day, hour in ((8, 1), (10, 2)):
        moment = datetime(2025, 3, day, 6, 30, tzinfo=UTC)
        assert _feature(features.vectorize(viewer, market[0], 0, moment), "hour_local") == hour
    # A naive time is UTC, whichever zone the server is in.
    naive = datetime(2025, 3, 14, 23, 30)
    row = features.vectorize(User(id="u"), market[0], 0, naive)
    assert (_feature(row, "hour_local"), _feature(row, "weekday_local")) == (23, 4)


# ----------------------------------------------------------------------------- predictors


def test_constant_predictor_gives_everyone_the_prior(users, market):
    predictor = ConstantPredictor(0.02)
    assert isinstance(predictor, CtrPredictor)
    assert predictor.predict(users[0], market[:3], [0, 4, 9], NOW) == [0.02] * 3
    assert predictor.predict(users[0], [], [], NOW) == []
    assert predictor.version == "constant-0.02"


def test_constant_predictor_is_clipped_and_refuses_non_probabilities(users, market):
    assert ConstantPredictor(0.0).predict(users[0], market[:1], [0], NOW) == [MIN_PCTR]
    assert ConstantPredictor(1.0).predict(users[0], market[:1], [0], NOW) == [MAX_PCTR]
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            ConstantPredictor(bad)


def test_training_rows_check_their_shapes():
    width = len(features.FEATURE_NAMES)
    with pytest.raises(ValueError):
        TrainingRows(X=np.zeros((3, width - 1)), y=np.zeros(3))
    with pytest.raises(ValueError):
        TrainingRows(X=np.zeros((3, width)), y=np.zeros(2))
    with pytest.raises(ValueError):
        TrainingRows(X=np.zeros((2, width)), y=np.array([0.0, 2.0]))
    empty = TrainingRows(X=np.zeros((0, 0)), y=np.zeros(0))
    assert (len(empty), empty.click_rate) == (0, 0.0)
    with pytest.raises(ValueError):
        train(empty)


def test_trained_model_has_at_least_100_trees(model):
    assert model.num_trees >= 100
    assert isinstance(model, CtrPredictor)
    assert re.fullmatch(r"lgbm-[0-9a-f]{16}", model.version)


def test_trained_model_beats_the_constant_prior_and_nears_the_oracle(
    positioned, train_rows, held_out
):
    rows, true_p = held_out
    predicted = positioned.predict_rows(rows.X)
    prior = np.full(len(rows), ConstantPredictor.fit(train_rows).pctr)
    model_loss, oracle_loss = log_loss(rows.y, predicted), log_loss(rows.y, true_p)
    constant_loss = log_loss(rows.y, prior)
    # The oracle is the best any predictor can do; the model must close most of the way.
    assert oracle_loss < model_loss < constant_loss
    assert constant_loss - model_loss > 0.5 * (constant_loss - oracle_loss)
    assert auc(rows.y, true_p) - auc(rows.y, predicted) < 0.05


def test_trained_model_is_calibrated(positioned, held_out):
    rows, _ = held_out
    mean_predicted = float(positioned.predict_rows(rows.X).mean())
    assert mean_predicted == pytest.approx(rows.y.mean(), rel=0.10)


def test_trees_never_split_on_the_position(model):
    splits = []

    def walk(node):
        if "split_feature" in node:
            splits.append(node["split_feature"])
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in model.booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    assert splits and POSITION not in splits


def test_the_position_effect_follows_the_true_slope_at_every_slot(positioned, held_out):
    """One slope, not a step per slot: no slot is off by the noise of its own clicks."""
    rows, true_p = held_out
    predicted, positions = positioned.predict_rows(rows.X), rows.X[:, POSITION]
    assert positioned.position_effect.slope == pytest.approx(simulator.POSITION_SLOPE, abs=0.015)
    for slot in np.unique(positions):
        shown = positions == slot
        assert predicted[shown].sum() / true_p[shown].sum() == pytest.approx(1.0, abs=0.1)


def test_predict_scores_a_request_like_its_feature_rows(model, users, market):
    positions = [index % 16 for index in range(len(market))]
    for user in (users[0], users[1], _unknown_user()):
        scores = model.predict(user, market, positions, NOW)
        rows = features.matrix(user, market, positions, NOW)
        assert scores == model.predict_rows(rows).tolist()
        assert all(MIN_PCTR <= score <= MAX_PCTR for score in scores)
    assert model.predict(users[0], [], [], NOW) == []


@pytest.fixture(scope="module")
def splits_on_position(train_rows):
    """A model of an earlier kind, whose trees split on the position."""
    params = {**training_params(learning_rate=0.1, num_leaves=15, seed=1), "lambda_l2": 0.0}
    del params["feature_penalty"]
    dataset = lightgbm.Dataset(
        train_rows.X, train_rows.y, feature_name=list(features.FEATURE_NAMES), params=params
    )
    return LightGBMPredictor(lightgbm.train(params, dataset, num_boost_round=30))


@pytest.mark.parametrize(
    "name", ["model", "positioned", "splits_on_position", "constant", "no_candidates"]
)
def test_predict_slots_is_predict_at_each_slot(name, request, users, market):
    """Scored once for every slot (the trees never read the position), or once per slot for
    trees that do: the same numbers as ``predict`` at each slot's position, exactly."""
    predictor = ConstantPredictor(0.02) if name == "constant" else None
    if name == "no_candidates":
        predictor, market = request.getfixturevalue("positioned"), []
    predictor = predictor or request.getfixturevalue(name)
    slots = [2, 5, 9]
    for user in (users[0], users[1], _unknown_user()):
        by_slot = predictor.predict_slots(user, market, slots, NOW)
        assert by_slot == [
            predictor.predict(user, market, [slot] * len(market), NOW) for slot in slots
        ]
    assert predictor.predict_slots(users[0], market, [], NOW) == []
    if name in ("positioned", "splits_on_position"):
        # Clicks fall down the feed: every candidate's pCTR differs between the slots.
        assert all(first != last for first, last in zip(by_slot[0], by_slot[-1], strict=True))


def test_model_string_round_trip_gives_identical_predictions(model, held_out):
    rows, _ = held_out
    text = model.to_model_string()
    loaded = LightGBMPredictor.from_model_string(text, version="v-loaded")
    assert loaded.version == "v-loaded"
    assert loaded.to_model_string() == text
    assert np.array_equal(loaded.predict_rows(rows.X), model.predict_rows(rows.X))


def test_a_model_trained_on_other_features_is_refused(small_rows):
    renamed = [*features.FEATURE_NAMES[:-1], "creative_bucket"]
    fewer = list(features.FEATURE_NAMES[:-1])
    for names, X in ((renamed, small_rows.X), (fewer, small_rows.X[:, :-1])):
        dataset = lightgbm.Dataset(X, label=small_rows.y, feature_name=names)
        booster = lightgbm.train({"verbose": -1, "objective": "binary"}, dataset, 2)
        with pytest.raises(ValueError, match="other features"):
            LightGBMPredictor.from_model_string(booster.model_to_string(), version="v")


def test_a_model_that_is_not_a_binary_classifier_is_refused(small_rows):
    dataset = lightgbm.Dataset(
        small_rows.X, label=small_rows.y, feature_name=list(features.FEATURE_NAMES)
    )
    booster = lightgbm.train({"verbose": -1, "objective": "regression"}, dataset, 2)
    with pytest.raises(ValueError, match="binary"):
        LightGBMPredictor.from_model_string(booster.model_to_string(), version="v")


_LOAD_CUT_MODEL = """
import json, sys
from auction.ctr import LightGBMPredictor
text = sys.stdin.read()
cut = int(sys.argv[1])
document = json.loads(text)
document["lightgbm"] = document["lightgbm"][:cut]
for artifact in (document["lightgbm"], json.dumps(document)):
    try:
        LightGBMPredictor.from_artifact(artifact)
        print("loaded")
    except ValueError as error:
        print("refused:", error)
"""


@pytest.mark.parametrize("share", [0.3, 0.5, 0.9])
def test_a_model_cut_short_inside_its_trees_is_refused_and_the_process_lives(model, share):
    """LightGBM aborts the whole process (std::terminate) on a model string whose trees are
    cut short; loading one in a child process shows whether it is refused instead."""
    import subprocess
    import sys

    artifact = model.to_artifact()
    trees = json.loads(artifact)["lightgbm"]
    start, end = trees.index("Tree=0"), trees.index("end of trees")
    cut = start + int((end - start) * share)
    child = subprocess.run(
        [sys.executable, "-c", _LOAD_CUT_MODEL, str(cut)],
        input=artifact,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-500:]
    assert (
        child.stdout.splitlines()
        == ["refused: not a LightGBM model: its trees are cut short or changed"] * 2
    )


def test_a_text_that_is_not_a_model_is_refused():
    with pytest.raises(ValueError):
        LightGBMPredictor.from_model_string("not a model", version="v")


def _with_every_leaf(text: str, value: float) -> str:
    """The model with every leaf set to ``value``: its raw score is value × trees."""

    def rewrite(match: re.Match) -> str:
        return "leaf_value=" + " ".join([repr(value)] * len(match.group(1).split()))

    rewritten = re.sub(r"^leaf_value=(.*)$", rewrite, text, flags=re.MULTILINE)
    # The header's byte offsets of the trees no longer hold; without them LightGBM reads the
    # trees one after the other.
    return re.sub(r"^tree_sizes=.*\n", "", rewritten, flags=re.MULTILINE)


def test_predictions_are_clipped_away_from_0_and_1(model, users, market):
    text = model.to_model_string()
    positions = list(range(len(market[:10])))
    never = LightGBMPredictor.from_model_string(_with_every_leaf(text, -50.0), version="never")
    always = LightGBMPredictor.from_model_string(_with_every_leaf(text, 50.0), version="always")
    assert never.predict(users[0], market[:10], positions, NOW) == [MIN_PCTR] * 10
    assert always.predict(users[0], market[:10], positions, NOW) == [MAX_PCTR] * 10


def test_training_is_deterministic(small_rows):
    first = train(small_rows, num_trees=20)
    second = train(small_rows, num_trees=20)
    assert first.to_model_string() == second.to_model_string()
    assert first.version == second.version
    assert train(small_rows, num_trees=20, seed=8).num_trees == 20


# ----------------------------------------------------------------------------- metrics


def test_log_loss_of_hand_computed_examples():
    assert log_loss([1, 0], [0.5, 0.5]) == pytest.approx(math.log(2))
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.6)) / 3
    assert log_loss([1, 0, 1], [0.9, 0.2, 0.6]) == pytest.approx(expected)
    assert log_loss(np.array([0.0]), np.array([0.0])) == pytest.approx(0.0, abs=1e-12)
    # A certain mistake costs a lot, but not infinity.
    assert math.isfinite(log_loss([1], [0.0]))


def test_auc_of_hand_computed_examples():
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    # Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered right.
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    # Positive 0.5 ties negative 0.5 (half a pair), beats 0.2; positive 0.9 beats both.
    assert auc([0, 1, 0, 1], [0.2, 0.5, 0.5, 0.9]) == 0.875


def test_metrics_refuse_bad_input():
    with pytest.raises(ValueError):
        auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError):
        log_loss([1, 0], [0.5])
    with pytest.raises(ValueError):
        log_loss([], [])
    with pytest.raises(ValueError):
        auc([0, 2], [0.1, 0.2])

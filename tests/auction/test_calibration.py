"""Isotonic calibration: hand-worked fits, a reference isotonic regression, the repair of a
deliberately miscalibrated score, and the serialised form a model artifact carries."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auction.calibration import (
    IsotonicCalibration,
    PlattCalibration,
    PositionEffect,
    calibration_from_dict,
    fit_calibration,
)
from auction.ctr import MAX_PCTR, MIN_PCTR
from auction.evaluation import calibration_ratio

NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)

SEED = 2025
# Clicks are rare, so a calibration fitted on N rows is off by about 1/sqrt(clicks) overall:
# ~3% with 50k rows at 2%. At 3% CTR, 500k fitting rows (~15k clicks) and 1M fresh rows keep
# the check below at three standard deviations from the 0.97-1.03 bounds, whatever the seed.
FIT_ROWS = 500_000
FRESH_ROWS = 1_000_000


def overpredicting_sample(rng: np.random.Generator, rows: int):
    """(raw score, label): true click probabilities averaging ~3%, scored at twice that."""
    true_p = rng.beta(1.0, 32.0, rows)
    labels = (rng.random(rows) < true_p).astype(np.int8)
    return np.minimum(2.0 * true_p, 1.0), labels


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(SEED)


@pytest.fixture(scope="module")
def fitting_data(rng):
    return overpredicting_sample(rng, FIT_ROWS)


@pytest.fixture(scope="module")
def fitted(fitting_data):
    return IsotonicCalibration.fit(*fitting_data)


# --- hand-worked fits -----------------------------------------------------------------------


def test_violators_are_pooled_into_one_block():
    # 0.1 clicked, 0.2 and 0.3 did not: the rate falls, so the three pool to 1/3 at their mean.
    calibration = IsotonicCalibration.fit(np.array([0.1, 0.2, 0.3, 0.4]), np.array([1, 0, 0, 1]))
    assert calibration.thresholds == pytest.approx((0.2, 0.4))
    assert calibration.values == pytest.approx((1 / 3, 1.0))


def test_tied_scores_are_pooled_before_fitting():
    calibration = IsotonicCalibration.fit(np.array([0.5, 0.2, 0.5, 0.5]), np.array([1, 0, 0, 1]))
    assert calibration.thresholds == (0.2, 0.5)
    assert calibration.values == pytest.approx((0.0, 2 / 3))


def test_equal_rates_share_a_block():
    # Pooling gives 1/2 for (0.1, 0.2) and for (0.3, 0.4): one flat block, one breakpoint.
    calibration = IsotonicCalibration.fit(np.array([0.1, 0.2, 0.3, 0.4]), np.array([1, 0, 1, 0]))
    assert calibration.thresholds == pytest.approx((0.25,))
    assert calibration.values == (0.5,)


def test_a_single_score_gives_a_constant():
    calibration = IsotonicCalibration.fit(np.full(4, 0.3), np.array([0, 0, 1, 0]))
    assert calibration.thresholds == (0.3,)
    assert calibration.apply(np.array([0.0, 0.3, 1.0])) == pytest.approx([0.25] * 3)


# --- against a reference isotonic regression ------------------------------------------------


def reference_isotonic(raw: np.ndarray, labels: np.ndarray) -> list[tuple[float, float]]:
    """(mean raw score, rate) per block, by the min-max formula: the fit at group i is
    max over j <= i of min over k >= i of the pooled rate of groups j..k. Slow and obvious."""
    scores = sorted(set(raw.tolist()))
    rows = [float((raw == s).sum()) for s in scores]
    clicks = [float(labels[raw == s].sum()) for s in scores]

    def rate(j: int, k: int) -> float:
        return sum(clicks[j : k + 1]) / sum(rows[j : k + 1])

    n = len(scores)
    fit = [max(min(rate(j, k) for k in range(i, n)) for j in range(i + 1)) for i in range(n)]
    blocks: list[list[int]] = []
    for i in range(n):
        if blocks and math.isclose(fit[blocks[-1][0]], fit[i], abs_tol=1e-12):
            blocks[-1].append(i)
        else:
            blocks.append([i])
    return [
        (
            sum(scores[i] * rows[i] for i in block) / sum(rows[i] for i in block),
            fit[block[0]],
        )
        for block in blocks
    ]


scores_on_a_grid = st.sampled_from([0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0])
any_scores = st.floats(min_value=0.0, max_value=1.0)
labelled_rows = st.lists(
    st.tuples(st.one_of(scores_on_a_grid, any_scores), st.integers(0, 1)),
    min_size=1,
    max_size=40,
)


def assert_monotone(calibration: IsotonicCalibration) -> None:
    assert (np.diff(calibration.thresholds) > 0).all()
    assert (np.diff(calibration.values) >= 0).all()


def as_arrays(rows) -> tuple[np.ndarray, np.ndarray]:
    return np.array([r for r, _ in rows], dtype=np.float64), np.array([y for _, y in rows])


@given(labelled_rows)
def test_fit_matches_the_reference_isotonic_regression(rows):
    raw, labels = as_arrays(rows)
    calibration = IsotonicCalibration.fit(raw, labels)
    expected = reference_isotonic(raw, labels)
    assert calibration.thresholds == pytest.approx([t for t, _ in expected])
    assert calibration.values == pytest.approx([v for _, v in expected])


@given(labelled_rows, st.integers(1, 6))
def test_fit_is_monotone(rows, max_points):
    raw, labels = as_arrays(rows)
    calibration = IsotonicCalibration.fit(raw, labels, max_points=max_points)
    assert 1 <= len(calibration.thresholds) <= max_points
    assert_monotone(calibration)
    calibrated = calibration.apply(np.linspace(0.0, 1.0, 101))
    assert (np.diff(calibrated) >= 0).all()


@given(labelled_rows, st.randoms(use_true_random=False))
def test_fit_does_not_depend_on_row_order(rows, random):
    shuffled = list(rows)
    random.shuffle(shuffled)
    assert IsotonicCalibration.fit(*as_arrays(shuffled)) == IsotonicCalibration.fit(
        *as_arrays(rows)
    )


# --- on a large, deliberately miscalibrated score --------------------------------------------


def test_calibration_repairs_a_twofold_overprediction(fitted, rng):
    raw, labels = overpredicting_sample(rng, FRESH_ROWS)
    assert calibration_ratio(labels, raw) == pytest.approx(2.0, abs=0.1)
    assert 0.97 <= calibration_ratio(labels, fitted.apply(raw)) <= 1.03


def test_on_the_fitting_rows_predicted_clicks_equal_clicks(fitted, fitting_data):
    raw, labels = fitting_data
    assert fitted.apply(raw).sum() == pytest.approx(labels.sum(), rel=0.01)


def test_compression_keeps_the_fit_close(fitting_data):
    raw, labels = fitting_data
    coarse = IsotonicCalibration.fit(raw, labels, max_points=8)
    assert len(coarse.thresholds) <= 8
    assert coarse.apply(raw).sum() == pytest.approx(labels.sum(), rel=0.015)


def test_fit_is_monotone_on_large_data(fitted):
    assert_monotone(fitted)


# --- serving ---------------------------------------------------------------------------------


def test_apply_never_returns_a_certain_outcome():
    calibration = IsotonicCalibration((0.1, 0.9), (0.0, 1.0))
    assert calibration.apply(np.array([0.0, 0.1, 0.9, 1.0])).tolist() == [
        MIN_PCTR,
        MIN_PCTR,
        MAX_PCTR,
        MAX_PCTR,
    ]


def test_apply_interpolates_between_breakpoints_and_holds_the_ends():
    calibration = IsotonicCalibration((0.2, 0.4), (0.01, 0.03))
    result = calibration.apply(np.array([0.0, 0.2, 0.3, 0.4, 0.9]))
    assert result == pytest.approx([0.01, 0.01, 0.02, 0.03, 0.03])


def test_apply_keeps_the_shape_and_refuses_nan():
    calibration = IsotonicCalibration((0.2, 0.4), (0.01, 0.03))
    assert calibration.apply(np.empty(0)).shape == (0,)
    assert calibration.apply(np.full((2, 3), 0.3)).shape == (2, 3)
    with pytest.raises(ValueError, match="NaN"):
        calibration.apply(np.array([0.3, math.nan]))


# --- input checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "labels", "message"),
    [
        ([], [], "no rows"),
        ([0.1, 0.2], [1], "same length"),
        ([[0.1], [0.2]], [[0], [1]], "1-d"),
        ([0.1, 0.2], [0, 2], "0 or 1"),
        ([0.1, 0.2], [0, 0.5], "0 or 1"),
        ([0.1, 1.5], [0, 1], r"\[0, 1\]"),
        ([-0.1, 0.5], [0, 1], r"\[0, 1\]"),
        ([0.1, math.nan], [0, 1], r"\[0, 1\]"),
    ],
)
def test_fit_refuses_bad_input(raw, labels, message):
    with pytest.raises(ValueError, match=message):
        IsotonicCalibration.fit(np.array(raw), np.array(labels))


def test_fit_refuses_a_non_positive_max_points():
    with pytest.raises(ValueError, match="max_points"):
        IsotonicCalibration.fit(np.array([0.1]), np.array([0]), max_points=0)


# --- the serialised form -------------------------------------------------------------------


def test_round_trip_through_json(fitted):
    document = json.loads(json.dumps(fitted.to_dict()))
    assert document["method"] == "isotonic"
    restored = IsotonicCalibration.from_dict(document)
    assert restored == fitted
    probe = np.linspace(0.0, 1.0, 1001)
    assert np.array_equal(restored.apply(probe), fitted.apply(probe))


VALID = {"method": "isotonic", "thresholds": [0.01, 0.02], "values": [0.0, 0.03]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "platt"}, "method"),
        ({"method": None}, "method"),
        ({"thresholds": [0.01]}, "1 thresholds but 2 values"),
        ({"thresholds": [], "values": []}, "at least one"),
        ({"thresholds": [0.02, 0.01]}, "strictly increasing"),
        ({"thresholds": [0.01, 0.01]}, "strictly increasing"),
        ({"values": [0.03, 0.0]}, "non-decreasing"),
        ({"values": [0.0, 1.5]}, r"values must lie in \[0, 1\]"),
        ({"values": [-0.1, 0.5]}, r"values must lie in \[0, 1\]"),
        ({"thresholds": [0.01, 2.0]}, r"thresholds must lie in \[0, 1\]"),
        ({"values": [0.0, math.nan]}, "finite"),
        ({"thresholds": [0.01, math.inf]}, "finite"),
        ({"values": [0.0, "0.03"]}, "numbers"),
        ({"values": [0.0, True]}, "numbers"),
        ({"values": "0.0,0.03"}, "numbers"),
        ({"values": None}, "numbers"),
        ({"offset": 0.1}, "unknown keys"),
    ],
)
def test_from_dict_refuses_malformed_documents(changes, message):
    with pytest.raises(ValueError, match=message):
        IsotonicCalibration.from_dict({**VALID, **changes})


@pytest.mark.parametrize("document", [None, [], "isotonic", {"thresholds": [0.1], "values": [0]}])
def test_from_dict_refuses_what_is_not_a_calibration(document):
    with pytest.raises(ValueError):
        IsotonicCalibration.from_dict(document)


def test_the_constructor_checks_the_same_invariants():
    with pytest.raises(ValueError, match="strictly increasing"):
        IsotonicCalibration((0.2, 0.1), (0.0, 0.1))


# --- Platt scaling, for calibration sets with few clicks -----------------------------------


def _overpredicting(seed: int, rows: int):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.005, 0.06, size=rows)
    labels = (rng.random(rows) < truth).astype(np.int8)
    return np.clip(truth * 2, 0, 1), labels, truth


def test_platt_scaling_fixes_a_twice_too_high_score_and_keeps_the_order():
    raw, labels, truth = _overpredicting(1, 200_000)
    platt = PlattCalibration.fit(raw, labels)
    fresh_raw, fresh_labels, _ = _overpredicting(2, 200_000)
    calibrated = platt.apply(fresh_raw)
    assert 0.97 <= calibrated.sum() / fresh_labels.sum() <= 1.03
    order = np.argsort(fresh_raw)
    assert (np.diff(calibrated[order]) >= 0).all()
    assert platt.slope > 0


def test_few_clicks_get_platt_many_get_isotonic():
    raw, labels, _ = _overpredicting(3, 2_000)  # about 60 clicks
    small = fit_calibration(raw, labels)
    assert isinstance(small, PlattCalibration)
    # Smooth: distinct raw scores keep distinct calibrated ones (a step function would not).
    assert len(np.unique(small.apply(raw))) > 1000
    raw, labels, _ = _overpredicting(4, 100_000)
    assert isinstance(fit_calibration(raw, labels), IsotonicCalibration)


def test_a_platt_calibration_round_trips_and_malformed_ones_are_refused():
    platt = PlattCalibration(0.8, -0.3)
    assert calibration_from_dict(platt.to_dict()) == platt
    assert calibration_from_dict(IsotonicCalibration((0.1, 0.2), (0.1, 0.2)).to_dict())
    for broken in (
        {"method": "platt", "slope": 0.0, "intercept": 0.0},
        {"method": "platt", "slope": float("nan"), "intercept": 0.0},
        {"method": "platt", "slope": True, "intercept": 0.0},
        {"method": "platt", "slope": 1.0},
        {"method": "platt", "slope": 1.0, "intercept": 0.0, "extra": 1},
    ):
        with pytest.raises(ValueError):
            calibration_from_dict(broken)


# --- the slot's position effect ------------------------------------------------------------


def _position_rows(rng, slope: float, count: int):
    """Calibrated pCTRs that leave the position out, and clicks drawn with it."""
    base = rng.uniform(0.005, 0.06, count)
    positions = rng.integers(0, 16, count).astype(np.float64)
    log_odds = np.log(base / (1 - base)) + slope * (positions - 7.5)
    clicks = (rng.random(count) < 1 / (1 + np.exp(-log_odds))).astype(np.int8)
    return base, positions, clicks


def test_the_position_effect_finds_the_slope_and_keeps_the_held_out_rate(rng):
    fitting = _position_rows(rng, -0.06, 400_000)
    held_out = _position_rows(rng, -0.06, 60_000)
    effect = PositionEffect.fit(fitting, held_out)
    assert effect.slope == pytest.approx(-0.06, abs=0.01)
    assert effect.center == pytest.approx(7.5, abs=0.05)
    pctrs, positions, clicks = held_out
    adjusted = effect.apply(pctrs, positions)
    assert adjusted.sum() == pytest.approx(clicks.sum(), rel=1e-6)
    assert (adjusted[positions == 0].mean() > pctrs[positions == 0].mean()) and (
        adjusted[positions == 15].mean() < pctrs[positions == 15].mean()
    )


def test_no_position_effect_gives_a_flat_slope(rng):
    effect = PositionEffect.fit(_position_rows(rng, 0.0, 200_000), _position_rows(rng, 0.0, 1))
    assert effect.slope == pytest.approx(0.0, abs=0.01)


def test_a_position_effect_round_trips_in_the_model_artifact_and_malformed_ones_are_refused(rng):
    from auction import simulator
    from auction.ctr import LightGBMPredictor, train
    from auction.features import FEATURE_NAMES

    rows = simulator.training_rows(
        simulator.simulate_impressions(
            simulator.make_users(200, seed=3), simulator.make_market(4, 3, 3, NOW), 4000, 3, NOW
        )
    )
    effect = PositionEffect(-0.05, 0.1, 7.0)
    model = train(rows, num_trees=5).calibrated(PlattCalibration(1.0, 0.0), effect)
    restored = LightGBMPredictor.from_artifact(model.to_artifact())
    assert restored.position_effect == effect and restored.version == model.version
    assert np.array_equal(restored.predict_rows(rows.X), model.predict_rows(rows.X))
    # The effect is applied: slot 0 above slot 15 for the same row otherwise.
    row = rows.X[:1].copy()
    top, bottom = row.copy(), row.copy()
    top[0, FEATURE_NAMES.index("position")], bottom[0, FEATURE_NAMES.index("position")] = 0, 15
    assert model.predict_rows(top)[0] > model.predict_rows(bottom)[0]
    for broken in (
        {"slope": 1.0, "intercept": 0.0},
        {"slope": float("inf"), "intercept": 0.0, "center": 7.0},
        {"slope": "1", "intercept": 0.0, "center": 7.0},
        [1.0, 0.0, 7.0],
    ):
        with pytest.raises(ValueError):
            PositionEffect.from_dict(broken)

"""The evaluation report's metrics, checked on examples small enough to work out by hand and on
synthetic clicks whose true probabilities are known."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auction.ctr import log_loss
from auction.evaluation import (
    calibration_ratio,
    evaluate,
    normalized_entropy,
    reliability_bins,
    reliability_diagram,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEED = 2025


@pytest.fixture(scope="module")
def synthetic():
    """(labels, true click probabilities) for 50k impressions at about 2%."""
    rng = np.random.default_rng(SEED)
    true_p = rng.beta(1.0, 49.0, 50_000)
    return (rng.random(true_p.size) < true_p).astype(np.int8), true_p


# --- normalized entropy ---------------------------------------------------------------------


def test_the_background_rate_predictor_has_normalized_entropy_one(synthetic):
    labels, _ = synthetic
    background = np.full(labels.size, labels.mean())
    assert normalized_entropy(labels, background) == pytest.approx(1.0, abs=1e-12)


def test_an_informative_predictor_has_normalized_entropy_below_one(synthetic):
    labels, true_p = synthetic
    assert normalized_entropy(labels, true_p) < 0.95


def test_normalized_entropy_by_hand():
    # Background rate 1/4: entropy = -(1/4 ln 1/4 + 3/4 ln 3/4).
    labels, pctr = [1, 0, 0, 0], [0.5, 0.1, 0.2, 0.3]
    entropy = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert normalized_entropy(labels, pctr) == pytest.approx(log_loss(labels, pctr) / entropy)


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1]])
def test_normalized_entropy_needs_both_classes(labels):
    with pytest.raises(ValueError, match="both"):
        normalized_entropy(labels, [0.1] * len(labels))


# --- calibration ratio ----------------------------------------------------------------------


def test_calibration_ratio_is_predicted_over_actual_clicks():
    assert calibration_ratio([1, 0, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(1.0)
    assert calibration_ratio([1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(2.0)


def test_calibration_ratio_without_clicks():
    assert calibration_ratio([0, 0], [0.1, 0.0]) == math.inf
    assert calibration_ratio([0, 0], [0.0, 0.0]) == 1.0


def test_a_twofold_overprediction_has_ratio_two(synthetic):
    labels, true_p = synthetic
    assert calibration_ratio(labels, true_p) == pytest.approx(1.0, abs=0.05)
    assert calibration_ratio(labels, 2 * true_p) == pytest.approx(2.0, abs=0.1)


# --- reliability bins -----------------------------------------------------------------------


def test_reliability_bins_by_hand():
    labels = [0, 0, 1, 0, 1, 1]
    pctr = [0.1, 0.1, 0.2, 0.2, 0.6, 0.8]
    bins = reliability_bins(labels, pctr, bins=3)
    assert bins == [
        {"rows": 2, "mean_pctr": pytest.approx(0.1), "click_rate": 0.0},
        {"rows": 2, "mean_pctr": pytest.approx(0.2), "click_rate": 0.5},
        {"rows": 2, "mean_pctr": pytest.approx(0.7), "click_rate": 1.0},
    ]


def test_tied_predictions_share_one_bin():
    bins = reliability_bins([0, 1, 0, 0, 1], [0.3] * 5, bins=20)
    assert bins == [{"rows": 5, "mean_pctr": pytest.approx(0.3), "click_rate": 0.4}]


@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.01, 0.02, 0.1, 0.5, 1.0])),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 25),
)
def test_reliability_bins_account_for_every_row(rows, bins):
    labels, pctr = [y for y, _ in rows], [p for _, p in rows]
    result = reliability_bins(labels, pctr, bins=bins)
    assert 1 <= len(result) <= bins
    assert sum(b["rows"] for b in result) == len(rows)
    assert sum(b["rows"] * b["click_rate"] for b in result) == pytest.approx(sum(labels))
    assert sum(b["rows"] * b["mean_pctr"] for b in result) == pytest.approx(sum(pctr))
    means = [b["mean_pctr"] for b in result]
    assert means == sorted(means)


def test_a_calibrated_model_lies_near_the_diagonal(synthetic):
    labels, true_p = synthetic
    bins = reliability_bins(labels, true_p)
    assert len(bins) == 20
    assert all(b["rows"] == 2_500 for b in bins)
    for b in bins[10:]:  # enough clicks per bin to check
        assert b["click_rate"] == pytest.approx(b["mean_pctr"], rel=0.3)


def test_reliability_bins_refuses_no_bins():
    with pytest.raises(ValueError, match="bins"):
        reliability_bins([0, 1], [0.1, 0.2], bins=0)


# --- the report -----------------------------------------------------------------------------


def test_calibration_by_group_by_hand():
    labels = np.array([1, 0, 0, 1, 0, 0, 0])
    pctr = np.array([0.5, 0.5, 0.2, 0.1, 0.1, 0.3, 0.4])
    groups = {
        "position": np.array([1, 1, 2, 2, 2, 10, 10]),
        "billing_event": np.array(["CPM", "CPM", "CPC", "CPC", "CPC", "CPM", "CPM"]),
    }
    report = evaluate(labels, pctr, groups=groups)
    assert report["by"]["position"] == {
        "1": {"rows": 2, "clicks": 1, "calibration_ratio": pytest.approx(1.0)},
        "2": {"rows": 3, "clicks": 1, "calibration_ratio": pytest.approx(0.4)},
        "10": {"rows": 2, "clicks": 0, "calibration_ratio": None},  # no click: infinitely over
    }
    assert list(report["by"]["position"]) == ["1", "2", "10"]  # numbers in numeric order
    assert report["by"]["billing_event"] == {
        "CPC": {"rows": 3, "clicks": 1, "calibration_ratio": pytest.approx(0.4)},
        "CPM": {"rows": 4, "clicks": 1, "calibration_ratio": pytest.approx(1.7)},
    }


def test_small_groups_are_left_out():
    report = evaluate(
        [1, 0, 0], [0.2, 0.2, 0.2], groups={"position": np.array([1, 1, 2])}, min_group_rows=2
    )
    assert list(report["by"]["position"]) == ["1"]


def test_report_headline_numbers(synthetic):
    labels, true_p = synthetic
    report = evaluate(labels, true_p)
    assert report["rows"] == 50_000
    assert report["clicks"] == int(labels.sum())
    assert report["click_rate"] == pytest.approx(labels.mean())
    assert 0.6 < report["auc"] < 0.9
    assert report["log_loss"] == pytest.approx(log_loss(labels, true_p))
    assert report["normalized_entropy"] == pytest.approx(normalized_entropy(labels, true_p))
    assert report["calibration_ratio"] == pytest.approx(calibration_ratio(labels, true_p))
    assert report["by"] == {}


def test_report_is_plain_json(synthetic):
    labels, true_p = synthetic
    groups = {"position": np.arange(labels.size) % 3, "kind": np.array(["a", "b"] * 25_000)}
    report = evaluate(labels, true_p, groups=groups)
    # allow_nan=False: PostgreSQL's JSONB refuses NaN and Infinity.
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert all(type(report[key]) is float for key in ("click_rate", "auc", "log_loss"))
    assert type(report["rows"]) is int and type(report["clicks"]) is int


def test_with_one_class_the_undefined_metrics_are_none():
    report = evaluate([0, 0, 0], [0.1, 0.2, 0.3])
    assert report["auc"] is None
    assert report["normalized_entropy"] is None
    assert report["calibration_ratio"] is None
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize(
    ("labels", "pctr", "message"),
    [
        ([], [], "no rows"),
        ([0, 1], [0.1], "same length"),
        ([[0, 1]], [[0.1, 0.2]], "1-d"),
        ([0, 2], [0.1, 0.2], "0 or 1"),
        ([0, 1], [0.1, 1.2], r"\[0, 1\]"),
        ([0, 1], [0.1, math.nan], r"\[0, 1\]"),
    ],
)
@pytest.mark.parametrize("metric", [calibration_ratio, reliability_bins, evaluate])
def test_bad_input_is_refused(metric, labels, pctr, message):
    with pytest.raises(ValueError, match=message):
        metric(labels, pctr)


def test_a_group_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="position"):
        evaluate([0, 1], [0.1, 0.2], groups={"position": np.array([1, 2, 3])})


# --- the diagram ----------------------------------------------------------------------------


def test_reliability_diagram_writes_a_png(tmp_path, synthetic):
    labels, true_p = synthetic
    curves = {
        "calibrated": reliability_bins(labels, true_p),
        "twice too high": reliability_bins(labels, np.minimum(2 * true_p, 1.0)),
    }
    path = tmp_path / "reliability.png"
    reliability_diagram(curves, path, title="held-out reliability")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize(
    "curves",
    [
        {},
        {"with an empty bin": [{"rows": 5, "mean_pctr": 0.001, "click_rate": 0.0}]},
        {"one point": [{"rows": 5, "mean_pctr": 0.02, "click_rate": 0.02}]},
    ],
)
def test_reliability_diagram_draws_awkward_curves_into_a_buffer(curves):
    buffer = io.BytesIO()
    reliability_diagram(curves, buffer, title="awkward")
    assert buffer.getvalue()[:8] == PNG_SIGNATURE

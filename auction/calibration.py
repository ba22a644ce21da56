"""Calibration of predicted click-through rates: isotonic, or Platt scaling on little data.

Boosted trees rank well but their probabilities drift (strong regularisation, rare clicks), and
pricing divides by pCTR, so a model that predicts twice the true rate charges CPC advertisers
half of what it should. The calibration is fitted on held-out rows the trees never saw: a
monotone step function from raw score to observed click rate (pool adjacent violators), kept as
a few hundred breakpoints between which serving interpolates linearly.

A step function needs clicks to stand on: fitted on a few dozen, it turns the model into a
handful of constants and its zero-click blocks into near-zero pCTRs. Below
``ISOTONIC_MIN_CLICKS`` held-out clicks, ``fit_calibration`` uses Platt scaling instead: a
logistic map of the raw log-odds with two parameters, smooth and monotone.

The feed slot's effect is not left to the trees (they never split on the position): after the
calibration, ``PositionEffect`` adds one slope per slot in log-odds, fitted on the training
rows, which hold far more clicks than the held-out ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from auction import features
from auction.ctr import MAX_PCTR, MIN_PCTR, LightGBMPredictor, TrainingRows

METHOD = "isotonic"
PLATT = "platt"
DEFAULT_MAX_POINTS = 512
ISOTONIC_MIN_CLICKS = 500
# Training rows the position slope is fitted on, evenly spaced: a million hold ~20,000 clicks.
POSITION_FIT_ROWS = 1_000_000
_LOGIT_EDGE = 1e-7


@dataclass(frozen=True)
class IsotonicCalibration:
    """A monotone map from raw pCTR to calibrated pCTR.

    ``thresholds`` are raw scores (strictly increasing), ``values`` the calibrated pCTR at each
    (non-decreasing). Values may be 0 or 1 (a block without clicks is one); ``apply`` clips.
    """

    thresholds: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        # Frozen, so normalise through object.__setattr__: lists in, tuples of floats stored.
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        _check_breakpoints(self.thresholds, self.values)

    @classmethod
    def fit(
        cls, raw: np.ndarray, labels: np.ndarray, *, max_points: int = DEFAULT_MAX_POINTS
    ) -> IsotonicCalibration:
        """The isotonic regression of ``labels`` on ``raw``, with at most ``max_points``
        breakpoints: each is the mean raw score of a block of rows and its click rate."""
        if max_points < 1:
            raise ValueError(f"max_points must be at least 1, got {max_points}")
        scores, clicks = _checked_fit_inputs(raw, labels)
        distinct_scores, rows, clicks = _pool_ties(scores, clicks)
        block_starts = _pool_adjacent_violators(rows, clicks)
        block_starts = _merge_blocks(block_starts, rows, clicks, max_points)
        return cls(*_block_breakpoints(block_starts, distinct_scores, rows, clicks))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated pCTRs, same shape as ``raw``: linear between breakpoints, the end values
        beyond them, and never exactly 0 or 1 (pricing divides by pCTR)."""
        scores = np.asarray(raw, dtype=np.float64)
        if np.isnan(scores).any():
            raise ValueError("raw pCTRs must not be NaN")
        calibrated = np.interp(scores, self.thresholds, self.values)
        return np.clip(calibrated, MIN_PCTR, MAX_PCTR)

    def to_dict(self) -> dict:
        return {"method": METHOD, "thresholds": list(self.thresholds), "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: dict) -> IsotonicCalibration:
        """The calibration ``to_dict`` wrote; ValueError, with the reason, for anything else."""
        if not isinstance(data, Mapping):
            raise ValueError(f"calibration must be a JSON object, got {type(data).__name__}")
        unknown = set(data) - {"method", "thresholds", "values"}
        if unknown:
            raise ValueError(f"calibration has unknown keys: {sorted(unknown)}")
        if data.get("method") != METHOD:
            raise ValueError(f"calibration method must be {METHOD!r}, got {data.get('method')!r}")
        return cls(_number_list(data, "thresholds"), _number_list(data, "values"))


def _check_breakpoints(thresholds: tuple[float, ...], values: tuple[float, ...]) -> None:
    if not thresholds:
        raise ValueError("calibration needs at least one breakpoint")
    if len(thresholds) != len(values):
        raise ValueError(f"{len(thresholds)} thresholds but {len(values)} values")
    # `not 0 <= x <= 1` also refuses NaN.
    if any(not 0.0 <= t <= 1.0 for t in thresholds):
        raise ValueError("calibration thresholds must lie in [0, 1]")
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError("calibration values must lie in [0, 1]")
    if any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
        raise ValueError("calibration thresholds must be strictly increasing")
    if any(b < a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError("calibration values must be non-decreasing")


def _number_list(data: Mapping, key: str) -> list[float]:
    items = data.get(key)
    if not isinstance(items, list | tuple):
        raise ValueError(f"calibration {key} must be a list of numbers")
    # bool is an int to Python, but a true/false in a calibration is a corrupt document.
    if any(isinstance(x, bool) or not isinstance(x, int | float) for x in items):
        raise ValueError(f"calibration {key} must be a list of numbers")
    if any(not math.isfinite(x) for x in items):
        raise ValueError(f"calibration {key} must be finite")
    return [float(x) for x in items]


def _checked_fit_inputs(raw, labels) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(raw, dtype=np.float64)
    clicks = np.asarray(labels)
    if scores.ndim != 1 or clicks.shape != scores.shape:
        raise ValueError(
            f"raw and labels must be 1-d of the same length, got {scores.shape} and {clicks.shape}"
        )
    if scores.size == 0:
        raise ValueError("no rows to fit the calibration on")
    if not np.isin(clicks, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not ((scores >= 0.0) & (scores <= 1.0)).all():  # also refuses NaN
        raise ValueError("raw pCTRs must lie in [0, 1]")
    return scores, clicks.astype(np.int64)


def _pool_ties(scores: np.ndarray, clicks: np.ndarray) -> tuple[np.ndarray, ...]:
    """(distinct scores ascending, rows at each, clicks at each).

    Rows with the same score must land in one block whatever their order, or the fit would
    depend on how the input happened to be sorted.
    """
    distinct_scores, inverse, rows = np.unique(scores, return_inverse=True, return_counts=True)
    clicks_per_score = np.bincount(inverse, weights=clicks, minlength=distinct_scores.size)
    return distinct_scores, rows, clicks_per_score.astype(np.int64)


def _pool_adjacent_violators(rows: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    """Start index (into the distinct scores) of each block of the isotonic fit.

    A block whose click rate is not below the next one's is merged with it, so the blocks'
    rates strictly increase. Rates are compared by cross-multiplying integer counts: exact.
    """
    starts: list[int] = []
    block_rows: list[int] = []
    block_clicks: list[int] = []
    for index, (n, c) in enumerate(zip(rows.tolist(), clicks.tolist(), strict=True)):
        starts.append(index)
        block_rows.append(n)
        block_clicks.append(c)
        while (
            len(starts) > 1
            and block_clicks[-2] * block_rows[-1] >= block_clicks[-1] * block_rows[-2]
        ):
            merged_rows, merged_clicks = block_rows.pop(), block_clicks.pop()
            starts.pop()
            block_rows[-1] += merged_rows
            block_clicks[-1] += merged_clicks
    return np.asarray(starts, dtype=np.int64)


def _merge_blocks(
    block_starts: np.ndarray, rows: np.ndarray, clicks: np.ndarray, max_points: int
) -> np.ndarray:
    """At most ``max_points`` blocks, by merging neighbours into groups of about equal weight.

    A block weighs its share of the rows plus its share of the clicks. By rows alone, the few
    high scores, where the rate climbs steeply and where most clicks (and CPC spend) are, would
    be lumped into one group; on a 3% CTR sample, 8 points then lost 3.5% of the clicks,
    against 0.7% with the clicks counted. Merging adjacent blocks keeps the fit monotone: a
    merged rate lies between the rates it merges, all of them below the next group's.
    """
    if block_starts.size <= max_points:
        return block_starts
    rows_per_block = np.add.reduceat(rows, block_starts)
    clicks_per_block = np.add.reduceat(clicks, block_starts)
    weight = rows_per_block / rows_per_block.sum()
    if clicks_per_block.sum() > 0:
        weight = weight + clicks_per_block / clicks_per_block.sum()
    weight_before = (np.cumsum(weight) - weight) / weight.sum()
    # Group ids 0 .. max_points - 1, non-decreasing along the blocks.
    group = np.minimum((weight_before * max_points).astype(np.int64), max_points - 1)
    first_of_group = np.r_[True, group[1:] != group[:-1]]
    return block_starts[first_of_group]


def _block_breakpoints(
    block_starts: np.ndarray, distinct_scores: np.ndarray, rows: np.ndarray, clicks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row-weighted mean raw score, click rate) of each block."""
    block_rows = np.add.reduceat(rows, block_starts)
    block_clicks = np.add.reduceat(clicks, block_starts)
    mean_scores = np.add.reduceat(distinct_scores * rows, block_starts) / block_rows
    # Rounding could put a mean a hair outside its block's scores and so, for neighbouring
    # scores, not above the previous block's mean; within its block it is strictly increasing.
    block_ends = np.r_[block_starts[1:], distinct_scores.size] - 1
    mean_scores = np.clip(mean_scores, distinct_scores[block_starts], distinct_scores[block_ends])
    return mean_scores, block_clicks / block_rows


@dataclass(frozen=True)
class PlattCalibration:
    """``logit(calibrated) = slope * logit(raw) + intercept``; slope > 0 keeps the order."""

    slope: float
    intercept: float

    def __post_init__(self) -> None:
        _store_finite_floats(self, ("slope", "intercept"), "calibration")
        if self.slope <= 0:
            raise ValueError("calibration slope must be positive")

    @classmethod
    def fit(cls, raw: np.ndarray, labels: np.ndarray) -> PlattCalibration:
        """Logistic regression of ``labels`` on the raw log-odds."""
        scores, clicks = _checked_fit_inputs(raw, labels)
        slope, intercept = _logistic_fit(_logit(scores), clicks, start_slope=1.0)
        # A model no better than chance gets a flat (but still ordered) map.
        return cls(max(slope, 1e-6), intercept)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        scores = np.asarray(raw, dtype=np.float64)
        if np.isnan(scores).any():
            raise ValueError("raw pCTRs must not be NaN")
        calibrated = _sigmoid(self.slope * _logit(scores) + self.intercept)
        return np.clip(calibrated, MIN_PCTR, MAX_PCTR)

    def to_dict(self) -> dict:
        return {"method": PLATT, "slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict) -> PlattCalibration:
        if not isinstance(data, Mapping):
            raise ValueError(f"calibration must be a JSON object, got {type(data).__name__}")
        if set(data) != {"method", "slope", "intercept"} or data["method"] != PLATT:
            raise ValueError("a Platt calibration has exactly method 'platt', slope, intercept")
        return cls(data["slope"], data["intercept"])


@dataclass(frozen=True)
class PositionEffect:
    """The feed slot's effect on clicks, as one slope in log-odds per slot, applied after the
    calibration: ``logit(pctr) = logit(calibrated) + slope * (position - center) + intercept``.

    The trees never split on the position (``ctr.training_params``): with a split per slot
    they fitted each slot's click noise (about 1,000 training clicks per slot on the
    simulator put single slots 5-10% off), where one slope over every row is smooth and
    precise. Clicks fall steadily down a feed; a shape other than log-linear would need more
    than one number here.
    """

    slope: float
    intercept: float
    center: float

    def __post_init__(self) -> None:
        _store_finite_floats(self, ("slope", "intercept", "center"), "position effect")

    @classmethod
    def fit(
        cls,
        fitting: tuple[np.ndarray, np.ndarray, np.ndarray],
        held_out: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> PositionEffect:
        """Each argument is (calibrated pCTRs, positions, labels). The slope comes from the
        ``fitting`` rows (the training rows: many clicks), with the calibrated pCTR as a
        fixed offset, so it is the slot's effect given everything else the model knows (ads
        higher in a ranked feed are better ads, too). The intercept is then refitted on the
        ``held_out`` rows the calibration was fitted on, so the overall rate stays theirs."""
        pctrs, positions, labels = fitting
        center = float(np.mean(positions)) if len(positions) else 0.0
        offset = _logit(_checked_fit_inputs(pctrs, labels)[0])
        slope, _ = _logistic_fit(np.asarray(positions, np.float64) - center, labels, offset)
        pctrs, positions, labels = held_out
        shifted = _logit(_checked_fit_inputs(pctrs, labels)[0]) + slope * (
            np.asarray(positions, np.float64) - center
        )
        _, intercept = _logistic_fit(np.zeros(len(shifted)), labels, shifted)
        return cls(slope, intercept, center)

    def apply(self, calibrated: np.ndarray, positions: np.ndarray) -> np.ndarray:
        shift = self.slope * (np.asarray(positions, dtype=np.float64) - self.center)
        adjusted = _sigmoid(_logit(np.asarray(calibrated, np.float64)) + shift + self.intercept)
        return np.clip(adjusted, MIN_PCTR, MAX_PCTR)

    def to_dict(self) -> dict:
        return {"slope": self.slope, "intercept": self.intercept, "center": self.center}

    @classmethod
    def from_dict(cls, data: dict) -> PositionEffect:
        if not isinstance(data, Mapping) or set(data) != {"slope", "intercept", "center"}:
            raise ValueError("a position effect has exactly slope, intercept and center")
        return cls(data["slope"], data["intercept"], data["center"])


def _store_finite_floats(obj: object, names: tuple[str, ...], what: str) -> None:
    """Each field of a frozen dataclass as a float; ValueError unless a finite number (a
    bool, to Python an int, is not one here)."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{what} {name} must be a number")
        if not math.isfinite(value):
            raise ValueError(f"{what} {name} must be finite")
        object.__setattr__(obj, name, float(value))


def _logistic_fit(
    x: np.ndarray, labels: np.ndarray, offset: np.ndarray | float = 0.0, start_slope: float = 0.0
) -> tuple[float, float]:
    """(slope, intercept) of the logistic regression ``logit(p) = offset + slope * x +
    intercept`` of 0/1 ``labels``, by Newton's method (a tiny ridge keeps it finite when one
    class is rare or ``x`` is constant)."""
    y = np.asarray(labels, dtype=np.float64)
    slope, intercept = start_slope, 0.0
    for _ in range(100):
        p = _sigmoid(offset + slope * x + intercept)
        weight = np.maximum(p * (1 - p), 1e-12)
        gradient = np.array([np.dot(x, p - y) + 1e-6 * slope, np.sum(p - y)])
        hessian = np.array(
            [
                [np.dot(weight * x, x) + 1e-6, np.dot(weight, x)],
                [np.dot(weight, x), np.sum(weight) + 1e-9],
            ]
        )
        step = np.linalg.solve(hessian, gradient)
        slope, intercept = slope - step[0], intercept - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(slope), float(intercept)


def fit_calibration(raw: np.ndarray, labels: np.ndarray) -> IsotonicCalibration | PlattCalibration:
    """Isotonic when the held-out rows have at least ``ISOTONIC_MIN_CLICKS`` clicks, else
    Platt scaling."""
    if int(np.sum(labels)) >= ISOTONIC_MIN_CLICKS:
        return IsotonicCalibration.fit(raw, labels)
    return PlattCalibration.fit(raw, labels)


def calibrate(
    trees: LightGBMPredictor, train: TrainingRows, held_out: TrainingRows
) -> LightGBMPredictor:
    """``trees`` followed by a calibration fitted on ``held_out`` rows and a position effect
    whose slope comes from (at most ``POSITION_FIT_ROWS`` of) the ``train`` rows."""
    held_out_raw = trees.raw_rows(held_out.X)
    calibration = fit_calibration(held_out_raw, held_out.y)
    step = max(1, -(-len(train) // POSITION_FIT_ROWS))
    sample = TrainingRows(train.X[::step], train.y[::step])
    position = features.FEATURE_NAMES.index("position")
    effect = PositionEffect.fit(
        (calibration.apply(trees.raw_rows(sample.X)), sample.X[:, position], sample.y),
        (calibration.apply(held_out_raw), held_out.X[:, position], held_out.y),
    )
    return trees.calibrated(calibration, effect)


def calibration_from_dict(data: dict) -> IsotonicCalibration | PlattCalibration:
    """Whichever calibration ``to_dict`` wrote; ValueError for anything else."""
    if isinstance(data, Mapping) and data.get("method") == PLATT:
        return PlattCalibration.from_dict(data)
    return IsotonicCalibration.from_dict(data)


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, _LOGIT_EDGE, 1 - _LOGIT_EDGE)
    return np.log(clipped) - np.log1p(-clipped)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Clipped: beyond 700 exp() overflows, and the answer is 0 or 1 to double precision anyway.
    return 1 / (1 + np.exp(-np.clip(x, -700, 700)))

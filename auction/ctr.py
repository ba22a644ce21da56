"""Predicted click-through rates: a constant prior, and a LightGBM model over ``features``.

Every pCTR that leaves this module is clipped to [``MIN_PCTR``, ``MAX_PCTR``]: pricing divides
by pCTR for CPC ads, so an exact 0 (or a certain click) must never reach it.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import lightgbm
import numpy as np

from auction import features
from auction.history import EMPTY_HISTORY, CtrHistory
from auction.types import AdGroup, User

if TYPE_CHECKING:
    from auction.calibration import PositionEffect

MIN_PCTR = 1e-6
MAX_PCTR = 1 - 1e-6

# Scoring runs inside request-serving workers: one thread, so a worker never competes with its
# siblings for the cores.
_PREDICT_PARAMS = {"num_threads": 1}

# A model artifact is JSON: the LightGBM model, the calibration fitted on held-out data, the
# position effect (optional), and the hash of the feature definition all were fitted on.
ARTIFACT_FORMAT = "adsmanager-ctr-model/1"
_POSITION = features.FEATURE_NAMES.index("position")


class Calibration(Protocol):
    """Maps the model's raw probabilities to calibrated ones (``auction.calibration``)."""

    def apply(self, raw: np.ndarray) -> np.ndarray: ...

    def to_dict(self) -> dict: ...


@runtime_checkable
class CtrPredictor(Protocol):
    version: str

    def predict(
        self,
        user: User,
        ad_groups: Sequence[AdGroup],
        positions: Sequence[int],
        now: datetime,
        history: CtrHistory = EMPTY_HISTORY,
    ) -> list[float]: ...

    def predict_slots(
        self,
        user: User,
        ad_groups: Sequence[AdGroup],
        positions: Sequence[int],
        now: datetime,
        history: CtrHistory = EMPTY_HISTORY,
    ) -> list[list[float]]:
        """Every ad group at every slot: ``result[k][i]`` is ad group ``i`` at
        ``positions[k]``, exactly what ``predict`` gives it there."""
        ...


class SlotsFromPredict:
    """``predict_slots`` as one ``predict`` call per slot, for a predictor with no cheaper
    way (each slot costs a full scoring)."""

    def predict_slots(
        self,
        user: User,
        ad_groups: Sequence[AdGroup],
        positions: Sequence[int],
        now: datetime,
        history: CtrHistory = EMPTY_HISTORY,
    ) -> list[list[float]]:
        predict = self.predict  # type: ignore[attr-defined]
        return [predict(user, ad_groups, [p] * len(ad_groups), now, history) for p in positions]


def clip_pctr(values: np.ndarray) -> np.ndarray:
    return np.clip(values, MIN_PCTR, MAX_PCTR)


@dataclass(frozen=True, eq=False)
class TrainingRows:
    """Feature rows (built by ``features.vectorize``/``features.matrix``) and 0/1 click labels."""

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.X.ndim != 2:
            raise ValueError(f"X must be a matrix, got shape {self.X.shape}")
        # No rows is no rows, whatever width an empty query result happens to have.
        if len(self.X) and self.X.shape[1] != len(features.FEATURE_NAMES):
            raise ValueError(
                f"X must have shape (n, {len(features.FEATURE_NAMES)}), got {self.X.shape}"
            )
        if self.y.shape != (self.X.shape[0],):
            raise ValueError(f"y must have shape ({self.X.shape[0]},), got {self.y.shape}")
        if not np.isin(self.y, (0, 1)).all():
            raise ValueError("labels must be 0 or 1")

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def click_rate(self) -> float:
        return float(self.y.mean()) if len(self) else 0.0


class ConstantPredictor(SlotsFromPredict):
    """The same pCTR for everyone: the prior used before any model has been trained."""

    def __init__(self, pctr: float, version: str | None = None) -> None:
        if not 0.0 <= pctr <= 1.0:  # also refuses NaN
            raise ValueError(f"pctr must be a probability, got {pctr!r}")
        self.pctr = float(np.clip(pctr, MIN_PCTR, MAX_PCTR))
        self.version = version if version is not None else f"constant-{self.pctr:g}"

    @classmethod
    def fit(cls, rows: TrainingRows) -> ConstantPredictor:
        """The observed click rate: the best a model without features can do."""
        return cls(rows.click_rate)

    def predict(
        self,
        user: User,
        ad_groups: Sequence[AdGroup],
        positions: Sequence[int],
        now: datetime,
        history: CtrHistory = EMPTY_HISTORY,
    ) -> list[float]:
        if len(ad_groups) != len(positions):
            raise ValueError(f"{len(ad_groups)} ad groups but {len(positions)} positions")
        return [self.pctr] * len(ad_groups)


class LightGBMPredictor:
    """A LightGBM binary classifier over ``features.FEATURE_NAMES``, optionally followed by a
    calibration."""

    def __init__(
        self,
        booster: lightgbm.Booster,
        version: str | None = None,
        calibration: Calibration | None = None,
        position_effect: PositionEffect | None = None,
    ) -> None:
        _check_feature_names(booster)
        self.booster = booster
        self.calibration = calibration
        self.position_effect = position_effect
        self._score = _BoosterScorer(booster)
        # Trees trained since the position effect never split on the slot position, so one
        # tree pass serves every slot; older ones are scored once per slot.
        self._splits_on_position = bool(booster.feature_importance("split")[_POSITION])
        # By default the version names the content: two identical models share it.
        self.version = version if version is not None else artifact_version(self.to_artifact())

    @classmethod
    def from_model_string(cls, text: str, version: str | None = None) -> LightGBMPredictor:
        """Load a model saved by ``to_model_string``; ValueError if it is not a LightGBM model
        or was trained on other features."""
        _check_complete(text)
        try:
            booster = lightgbm.Booster(model_str=text)
        except lightgbm.basic.LightGBMError as error:
            raise ValueError(f"not a LightGBM model: {error}") from error
        _check_objective(text)
        return cls(booster, version)

    @classmethod
    def from_artifact(cls, text: str, version: str | None = None) -> LightGBMPredictor:
        """Load what ``to_artifact`` wrote (or a bare LightGBM model file). ValueError, with the
        reason, for anything that must not serve: not a model, another feature spec, a
        malformed calibration."""
        if not text.lstrip().startswith("{"):
            return cls.from_model_string(text, version)
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ValueError(f"not a model artifact: {error}") from error
        if not isinstance(document, dict) or document.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"not a model artifact of format {ARTIFACT_FORMAT}")
        spec = document.get("feature_spec_hash")
        if spec != features.FEATURE_SPEC_HASH:
            raise ValueError(
                f"model was built for feature spec {spec}, this server has "
                f"{features.FEATURE_SPEC_HASH}"
            )
        model = cls.from_model_string(str(document.get("lightgbm", "")), version)
        from auction.calibration import PositionEffect, calibration_from_dict

        calibration = document.get("calibration")
        effect = document.get("position_effect")
        return cls(
            model.booster,
            version,
            calibration_from_dict(calibration) if calibration is not None else None,
            PositionEffect.from_dict(effect) if effect is not None else None,
        )

    def to_model_string(self) -> str:
        return self.booster.model_to_string()

    def to_artifact(self) -> str:
        return json.dumps(
            {
                "format": ARTIFACT_FORMAT,
                "feature_spec_hash": features.FEATURE_SPEC_HASH,
                "lightgbm": self.to_model_string(),
                "calibration": self.calibration.to_dict() if self.calibration else None,
                "position_effect": (
                    self.position_effect.to_dict() if self.position_effect else None
                ),
            },
            sort_keys=True,
        )

    def calibrated(
        self, calibration: Calibration, position_effect: PositionEffect | None = None
    ) -> LightGBMPredictor:
        """The same trees followed by ``calibration`` and the slot's ``position_effect``
        (a new version)."""
        return LightGBMPredictor(
            self.booster, calibration=calibration, position_effect=position_effect
        )

    @property
    def num_trees(self) -> int:
        return self.booster.num_trees()

    def predict(
        self,
        user: User,
        ad_groups: Sequence[AdGroup],
        positions: Sequence[int],
        now: datetime,
        history: CtrHistory = EMPTY_HISTORY,
    ) -> list[float]:
        rows = features.matrix(user, ad_groups, positions, now, history)
        return self.predict_rows(rows).tolist()

    def predict_slots(
        self,
        user: User,
        ad_groups: Sequence[AdGroup],
        positions: Sequence[int],
        now: datetime,
        history: CtrHistory = EMPTY_HISTORY,
    ) -> list[list[float]]:
        if not positions or not ad_groups:
            return [[] for _ in positions]
        rows = features.matrix(user, ad_groups, [positions[0]] * len(ad_groups), now, history)
        if self._splits_on_position:
            stacked = np.tile(rows, (len(positions), 1))
            stacked[:, _POSITION] = np.repeat(np.asarray(positions, np.float64), len(rows))
            return self.predict_rows(stacked).reshape(len(positions), len(rows)).tolist()
        calibrated = self._calibrated(rows)
        if self.position_effect is None:
            return [clip_pctr(calibrated).tolist() for _ in positions]
        # One row of pCTRs per slot, from the same calibrated tree scores.
        at_slots = np.asarray(positions, np.float64)[:, None]
        return clip_pctr(self.position_effect.apply(calibrated[None, :], at_slots)).tolist()

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        """Clipped, calibrated pCTRs of feature rows, all scored by one Booster call."""
        raw = self._calibrated(rows)
        if self.position_effect is not None and raw.size:
            raw = self.position_effect.apply(raw, rows[:, _POSITION])
        return clip_pctr(raw)

    def _calibrated(self, rows: np.ndarray) -> np.ndarray:
        raw = self.raw_rows(rows)
        if self.calibration is not None and raw.size:
            raw = self.calibration.apply(raw)
        return raw

    def raw_rows(self, rows: np.ndarray) -> np.ndarray:
        """The trees' own probabilities, before calibration."""
        if rows.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        return self._score(rows)


def _check_complete(text: str) -> None:
    """ValueError unless the trees the model's ``tree_sizes`` line announces are all there.

    LightGBM parses the trees of a model string in parallel by those sizes, and a string cut
    short inside them ends in a fatal error that aborts the whole process (std::terminate)
    rather than raising: a truncated model file would take a worker down instead of being
    refused."""
    header = next((line for line in text.splitlines() if line.startswith("tree_sizes=")), None)
    if header is None:
        return  # no sizes: LightGBM reads the trees one by one, and raises on a short one
    try:
        sizes = [int(size) for size in header.removeprefix("tree_sizes=").split()]
    except ValueError:
        raise ValueError("not a LightGBM model: a malformed tree_sizes line") from None
    first = text.find("Tree=0")
    end = text.find("end of trees", max(first, 0))
    if (sizes and first < 0) or end < 0 or (sizes and end - first != sum(sizes)):
        raise ValueError("not a LightGBM model: its trees are cut short or changed")


class _BoosterScorer:
    """``booster.predict(rows, num_threads=1)`` for the auction's float64 feature rows: the
    same C function with the same arguments, so the same numbers by construction (a test
    holds it to that). ``Booster.predict`` builds a predictor object, a parameter string
    and several ctypes values on every call, which costs about as much as scoring a few
    dozen rows; here they are built once. Anything but a C-ordered float64 matrix (which
    LightGBM would convert first) goes through ``Booster.predict`` itself."""

    def __init__(self, booster: lightgbm.Booster) -> None:
        self._booster = booster  # owns the handle
        self._binary = booster.num_model_per_iteration() == 1
        basic = lightgbm.basic
        try:  # LightGBM's internals: a release that moves them gets Booster.predict instead
            self._handle = booster._handle
            self._call = basic._LIB.LGBM_BoosterPredictForMat
            self._check = basic._safe_call
            self._constant_arguments = (
                ctypes.c_int(basic._C_API_IS_ROW_MAJOR),
                ctypes.c_int(basic._C_API_PREDICT_NORMAL),
                ctypes.c_int(0),  # start_iteration
                # What Booster.predict passes when called without num_iteration.
                ctypes.c_int(booster.best_iteration),
                basic._c_str(basic._param_dict_to_str(_PREDICT_PARAMS)),
            )
            self._float64 = ctypes.c_int(basic._C_API_DTYPE_FLOAT64)
        except AttributeError:
            self._binary = False

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        if not (
            self._binary
            and rows.ndim == 2
            and rows.dtype == np.float64
            and rows.flags["C_CONTIGUOUS"]
        ):
            return self._booster.predict(rows, **_PREDICT_PARAMS)
        count = rows.shape[0]
        scores = np.empty(count, dtype=np.float64)
        written = ctypes.c_int64(0)
        self._check(
            self._call(
                self._handle,
                ctypes.c_void_p(rows.ctypes.data),
                self._float64,
                ctypes.c_int32(count),
                ctypes.c_int32(rows.shape[1]),
                *self._constant_arguments,
                ctypes.byref(written),
                ctypes.c_void_p(scores.ctypes.data),
            )
        )
        if written.value != count:
            raise ValueError(f"LightGBM wrote {written.value} scores for {count} rows")
        return scores


def artifact_version(artifact: str) -> str:
    return "lgbm-" + hashlib.sha256(artifact.encode()).hexdigest()[:16]


def _check_feature_names(booster: lightgbm.Booster) -> None:
    names = tuple(booster.feature_name())
    if names != features.FEATURE_NAMES:
        raise ValueError(
            "model was trained on other features: "
            f"expected {list(features.FEATURE_NAMES)}, got {list(names)}"
        )


def _check_objective(text: str) -> None:
    # A regression or ranking model over the same features would load and score, but its
    # outputs are not probabilities, and pricing divides by them.
    match = re.search(r"^objective=(\S+)", text, flags=re.MULTILINE)
    if match is None or match.group(1) != "binary":
        found = match.group(1) if match else "none"
        raise ValueError(f"not a binary classifier (objective {found})")


def training_params(*, learning_rate: float, num_leaves: int, seed: int) -> dict[str, object]:
    return {
        "objective": "binary",
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "seed": seed,
        # Clicks are rare, so most candidate splits only fit noise. A strong L2 penalty shrinks
        # the leaves that few clicks stand behind (a row's hessian is about its pCTR, ~0.02)
        # without stopping training early, as a minimum split gain does. On the simulator it
        # took the held-out log-loss gain over the constant prior from under 40% of the
        # oracle's to about 75% (100k rows) and 55% (200k rows, 600 ad groups).
        "lambda_l2": 1000.0,
        # No split on the slot position: the calibration's PositionEffect carries it as one
        # smooth slope (per-slot splits fitted each slot's click noise).
        "feature_penalty": [0.0 if n == "position" else 1.0 for n in features.FEATURE_NAMES],
        # The same rows and parameters give the same model, bit for bit: a fixed thread
        # count (histograms are summed per thread) and a fixed histogram layout.
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbose": -1,
    }


def train(
    rows: TrainingRows,
    *,
    num_trees: int = 200,
    learning_rate: float = 0.05,
    num_leaves: int = 31,
    seed: int = 7,
    on_iteration: Callable[[int], None] | None = None,
) -> LightGBMPredictor:
    """A model trained on ``rows``; its version names the model's content, so two identical
    models share a version and two different ones never do."""
    if len(rows) == 0:
        raise ValueError("no training rows")
    if num_trees < 1:
        raise ValueError("num_trees must be at least 1")
    dataset = lightgbm.Dataset(
        rows.X,
        label=rows.y,
        feature_name=list(features.FEATURE_NAMES),
        categorical_feature=list(features.CATEGORICAL_FEATURES),
        params={"verbose": -1},
    )
    params = training_params(learning_rate=learning_rate, num_leaves=num_leaves, seed=seed)
    callbacks = [lambda env: on_iteration(env.iteration + 1)] if on_iteration else []
    booster = lightgbm.train(params, dataset, num_boost_round=num_trees, callbacks=callbacks)
    return LightGBMPredictor(booster)


def log_loss(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray) -> float:
    """Mean negative log-likelihood of 0/1 labels ``y`` under probabilities ``p``."""
    labels, probabilities = _paired_arrays(y, p)
    # Clipped so one confident mistake costs a large but finite amount, not infinity.
    probabilities = np.clip(probabilities, 1e-15, 1 - 1e-15)
    losses = labels * np.log(probabilities) + (1 - labels) * np.log1p(-probabilities)
    return float(-losses.mean())


def auc(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative, ties counting one half (Mann-Whitney U with average ranks)."""
    labels, scores = _paired_arrays(y, p)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both positive and negative labels")
    ranks = _average_ranks(scores)
    rank_sum = float(ranks[labels == 1].sum())
    u_statistic = rank_sum - positives * (positives + 1) / 2
    return u_statistic / (positives * negatives)


def _paired_arrays(y, p) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y, dtype=np.float64)
    values = np.asarray(p, dtype=np.float64)
    if labels.shape != values.shape or labels.ndim != 1 or labels.size == 0:
        raise ValueError("y and p must be non-empty 1-d sequences of the same length")
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    return labels, values


def _average_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks; tied scores all get the mean of the ranks they span."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    # Start index of each run of equal scores in sorted order.
    run_starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    run_ends = np.r_[run_starts[1:], sorted_scores.size]
    run_ranks = (run_starts + 1 + run_ends) / 2  # mean of ranks start+1 .. end
    ranks = np.empty(scores.size, dtype=np.float64)
    ranks[order] = np.repeat(run_ranks, run_ends - run_starts)
    return ranks

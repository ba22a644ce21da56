"""How good a CTR model is on held-out rows: the numbers of its evaluation report and the
reliability diagram.

Ranking quality (AUC) is not enough for an auction: prices are computed from pCTR, so a model
must also be calibrated, overall and within the groups pricing treats differently (position,
billing event, new ad groups). Every number in a report is a plain Python int, float or None,
so the report can be stored as JSON (PostgreSQL's JSONB refuses NaN and infinity).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from auction.ctr import auc, log_loss

DEFAULT_BINS = 20


def normalized_entropy(labels, pctr) -> float:
    """Log loss divided by the entropy of the background click rate (He et al. 2014, "Practical
    Lessons from Predicting Clicks on Ads at Facebook"): 1.0 for predicting the mean click rate
    for everyone, lower is better. Unlike raw log loss it can be compared across data sets with
    different click rates."""
    y, p = _checked(labels, pctr)
    background = float(y.mean())
    if background in (0.0, 1.0):
        raise ValueError("normalized entropy needs both clicks and non-clicks")
    entropy = -(background * math.log(background) + (1 - background) * math.log1p(-background))
    return log_loss(y, p) / entropy


def calibration_ratio(labels, pctr) -> float:
    """Predicted clicks over actual clicks: 1.0 is calibrated, 2.0 predicts twice too many.

    With no click, any positive prediction is infinitely too many; predicting exactly zero
    clicks where none happened is calibrated (1.0).
    """
    y, p = _checked(labels, pctr)
    predicted, actual = float(p.sum()), float(y.sum())
    if actual == 0.0:
        return math.inf if predicted > 0.0 else 1.0
    return predicted / actual


def reliability_bins(labels, pctr, bins: int = DEFAULT_BINS) -> list[dict]:
    """Rows grouped into ``bins`` quantile bins of pCTR, each with its mean pCTR and observed
    click rate: a calibrated model's bins lie on the diagonal.

    Bin edges are pCTR values, so tied pCTRs always share a bin, and quantiles that coincide
    (many ties) merge their bins; bins left empty are skipped.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    y, p = _checked(labels, pctr)
    edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, bins + 1)))
    # Inner edges only: a pCTR equal to an edge belongs to the bin that starts there.
    bin_of_row = np.searchsorted(edges[1:-1], p, side="right")
    rows = np.bincount(bin_of_row, minlength=edges.size)
    pctr_sums = np.bincount(bin_of_row, weights=p, minlength=edges.size)
    click_sums = np.bincount(bin_of_row, weights=y, minlength=edges.size)
    return [
        {
            "rows": int(rows[i]),
            "mean_pctr": float(pctr_sums[i] / rows[i]),
            "click_rate": float(click_sums[i] / rows[i]),
        }
        for i in np.flatnonzero(rows)
    ]


def evaluate(
    labels,
    pctr,
    *,
    groups: Mapping[str, np.ndarray] | None = None,
    min_group_rows: int = 1,
) -> dict[str, Any]:
    """The evaluation report of predictions ``pctr`` for 0/1 ``labels``.

    ``groups`` maps a name (e.g. "position") to each row's value; the report then gives the
    calibration of every value with at least ``min_group_rows`` rows, keyed by ``str(value)``
    in the values' sorted order. Metrics that one class alone leaves undefined (AUC, normalized
    entropy) and infinite calibration ratios are None.
    """
    if min_group_rows < 1:
        raise ValueError(f"min_group_rows must be at least 1, got {min_group_rows}")
    y, p = _checked(labels, pctr)
    both_classes = 0 < y.sum() < y.size
    return {
        "rows": int(y.size),
        "clicks": int(y.sum()),
        "click_rate": float(y.mean()),
        "auc": float(auc(y, p)) if both_classes else None,
        "log_loss": float(log_loss(y, p)),
        "normalized_entropy": float(normalized_entropy(y, p)) if both_classes else None,
        "calibration_ratio": _finite_or_none(calibration_ratio(y, p)),
        "by": {
            name: _calibration_by_value(y, p, values, name, min_group_rows)
            for name, values in (groups or {}).items()
        },
    }


def reliability_diagram(
    curves: Mapping[str, list[dict]], path: str | Any | IO[bytes], *, title: str
) -> None:
    """A PNG at ``path`` (a file name or a binary file object): observed click rate against
    mean pCTR for each named curve of ``reliability_bins``, and the diagonal of perfect
    calibration."""
    # Imported here: serving workers import this module for its metrics, and matplotlib
    # would cost each of them tens of megabytes for a chart they never draw.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A bare Figure with the Agg canvas: no pyplot, so no global state and no display needed.
    figure = Figure(figsize=(6.4, 6.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for label, bins in curves.items():
        axes.plot(
            [b["mean_pctr"] for b in bins],
            [b["click_rate"] for b in bins],
            marker="o",
            markersize=3,
            label=label,
        )
    low, high, log_scale = _axis_range(curves)
    axes.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect calibration")
    if log_scale:
        axes.set_xscale("log")
        axes.set_yscale("log")
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_xlabel("mean predicted CTR")
    axes.set_ylabel("observed click rate")
    axes.set_title(title)
    axes.legend(loc="upper left")
    axes.grid(True, which="both", alpha=0.3)
    figure.savefig(path, format="png")
    figure.clear()


def _axis_range(curves: Mapping[str, list[dict]]) -> tuple[float, float, bool]:
    """(low, high, log scale?) covering every point. Log axes when the rates span at least a
    decade, as pCTRs do, so the many low bins are not crushed into a corner; but a log axis
    cannot show a bin without clicks, so then linear."""
    points = [
        b[key] for bins in curves.values() for b in bins for key in ("mean_pctr", "click_rate")
    ]
    if not points:
        return 0.0, 1.0, False
    smallest, largest = min(points), max(points)
    if smallest > 0.0 and largest >= 10 * smallest:
        return smallest / 1.5, min(largest * 1.5, 1.0), True
    return 0.0, min(max(largest * 1.1, 1e-6), 1.0), False


def _calibration_by_value(
    y: np.ndarray, p: np.ndarray, values, name: str, min_rows: int
) -> dict[str, dict[str, Any]]:
    values = np.asarray(values)
    if values.shape != y.shape:
        raise ValueError(f"group {name!r} has shape {values.shape}, expected {y.shape}")
    report = {}
    for value in np.unique(values):
        in_group = values == value
        rows = int(in_group.sum())
        if rows < min_rows:
            continue
        report[str(value)] = {
            "rows": rows,
            "clicks": int(y[in_group].sum()),
            "calibration_ratio": _finite_or_none(calibration_ratio(y[in_group], p[in_group])),
        }
    return report


def _finite_or_none(number: float) -> float | None:
    return float(number) if math.isfinite(number) else None


def _checked(labels, pctr) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(pctr, dtype=np.float64)
    if y.ndim != 1 or p.shape != y.shape:
        raise ValueError(
            f"labels and pctr must be 1-d of the same length, got {y.shape} and {p.shape}"
        )
    if y.size == 0:
        raise ValueError("no rows to evaluate")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    if not ((p >= 0.0) & (p <= 1.0)).all():  # also refuses NaN
        raise ValueError("pctr must lie in [0, 1]")
    return y, p

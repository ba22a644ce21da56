"""Train, calibrate, evaluate and register a CTR model on what the auction logged: every
served ad that was shown (an impression event arrived), labelled by whether a click followed.

The logged rows are split by time, never at random: the oldest 70% train the trees, the next
15% fit the calibration, and the newest 15% are the held-out test on which the new model, the
constant prior and the active model are all compared. Nothing from the future reaches training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, exists, select

from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent, ServedAd
from adsmanager.services import ctr_models
from adsmanager.vocabulary import ModelStatus
from auction import evaluation
from auction.calibration import IsotonicCalibration
from auction.ctr import ConstantPredictor, LightGBMPredictor, TrainingRows, train
from auction.features import FEATURE_NAMES
from auction.tokens import CLICK, IMPRESSION

TRAIN_SHARE, CALIBRATION_SHARE = 0.70, 0.15
MIN_ROWS = 100
_POSITION = FEATURE_NAMES.index("position")
_IS_CPC = FEATURE_NAMES.index("billing_is_cpc")


@dataclass(frozen=True)
class LoggedRows:
    rows: TrainingRows
    served_at: list[datetime]
    ad_group_ids: list[str]

    def __len__(self) -> int:
        return len(self.rows)

    def part(self, start: int, stop: int) -> LoggedRows:
        return LoggedRows(
            TrainingRows(self.rows.X[start:stop], self.rows.y[start:stop]),
            self.served_at[start:stop],
            self.ad_group_ids[start:stop],
        )


@dataclass(frozen=True)
class TrainingOutcome:
    model_id: str
    version: str
    status: ModelStatus
    metrics: dict[str, Any]
    decision: str


def _event(event_type: str):
    return exists().where(
        and_(AdEvent.impression_id == ServedAd.impression_id, AdEvent.event_type == event_type)
    )


def logged_rows(
    db: Database, since: datetime | None = None, until: datetime | None = None
) -> LoggedRows:
    """Shown ads in ``[since, until)``, oldest first."""
    statement = (
        select(ServedAd.features, _event(CLICK), ServedAd.served_at, ServedAd.ad_group_id)
        .where(_event(IMPRESSION))
        .order_by(ServedAd.served_at, ServedAd.impression_id)
    )
    if since is not None:
        statement = statement.where(ServedAd.served_at >= since)
    if until is not None:
        statement = statement.where(ServedAd.served_at < until)
    with db.read() as session:
        rows = session.execute(statement).all()
    width = len(FEATURE_NAMES)
    return LoggedRows(
        TrainingRows(
            np.asarray([row[0] for row in rows], dtype=np.float64).reshape(len(rows), width),
            np.asarray([int(row[1]) for row in rows], dtype=np.int8),
        ),
        [row[2] for row in rows],
        [row[3] for row in rows],
    )


def split_by_time(logged: LoggedRows) -> tuple[LoggedRows, LoggedRows, LoggedRows]:
    """(train, calibration, test): consecutive slices of the time-ordered rows."""
    first = int(len(logged) * TRAIN_SHARE)
    second = int(len(logged) * (TRAIN_SHARE + CALIBRATION_SHARE))
    return logged.part(0, first), logged.part(first, second), logged.part(second, len(logged))


def fit(
    train_part: TrainingRows,
    calibration_part: TrainingRows,
    *,
    num_trees: int,
    on_tree: Callable[[int], None] | None = None,
) -> LightGBMPredictor:
    """Trees on the first part, isotonic calibration of their output on the second."""
    trees = train(train_part, num_trees=num_trees, on_iteration=on_tree)
    calibration = IsotonicCalibration.fit(trees.raw_rows(calibration_part.X), calibration_part.y)
    return trees.calibrated(calibration)


def _groups(test: LoggedRows, seen_ad_groups: set[str]) -> dict[str, np.ndarray]:
    X = test.rows.X
    return {
        "position": X[:, _POSITION].astype(int),
        "billing_event": np.where(X[:, _IS_CPC] == 1.0, "CPC", "CPM"),
        # New: the ad group has no impression in the training part.
        "ad_age": np.array(
            ["established" if i in seen_ad_groups else "new" for i in test.ad_group_ids]
        ),
    }


def evaluate_on(
    model: LightGBMPredictor, test: LoggedRows, seen_ad_groups: set[str]
) -> dict[str, Any]:
    predicted = model.predict_rows(test.rows.X)
    report = evaluation.evaluate(
        test.rows.y, predicted, groups=_groups(test, seen_ad_groups), min_group_rows=1
    )
    report["version"] = model.version
    report["reliability"] = evaluation.reliability_bins(test.rows.y, predicted)
    return report


def train_and_register(
    db: Database,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    num_trees: int = 200,
    auto_activate: bool = True,
    created_by: str | None = None,
    on_tree: Callable[[int], None] | None = None,
) -> TrainingOutcome:
    """Train a challenger on the window, register it as a candidate with its evaluation,
    and activate it when ``auto_activate`` and it beats the active model (or, with none
    active, the constant prior) on the same held-out rows."""
    logged = logged_rows(db, since, until)
    if len(logged) < MIN_ROWS or logged.rows.y.sum() == 0:
        raise ValueError(f"not enough logged impressions with clicks to train on ({len(logged)})")
    train_part, calibration_part, test = split_by_time(logged)
    if test.rows.y.sum() == 0 or calibration_part.rows.y.sum() == 0:
        raise ValueError("the calibration or test part has no click: log more traffic")
    model = fit(train_part.rows, calibration_part.rows, num_trees=num_trees, on_tree=on_tree)
    seen = set(train_part.ad_group_ids)
    prior = ConstantPredictor.fit(train_part.rows).pctr
    metrics: dict[str, Any] = {
        "rows": {"train": len(train_part), "calibration": len(calibration_part), "test": len(test)},
        "test_window": {
            "from": test.served_at[0].isoformat(),
            "to": test.served_at[-1].isoformat(),
        },
        "model": evaluate_on(model, test, seen),
        "uncalibrated": evaluation.evaluate(test.rows.y, model.raw_rows(test.rows.X)),
        "prior": evaluation.evaluate(test.rows.y, np.full(len(test), prior)),
        "active": None,
    }
    active_record = ctr_models.active(db)
    if active_record is not None:
        try:
            metrics["active"] = evaluate_on(ctr_models.load(active_record), test, seen)
        except ValueError:
            metrics["active"] = None  # it cannot be loaded here either: nothing to beat
    record = ctr_models.register(
        db,
        model,
        metrics=metrics,
        training_rows=len(train_part),
        trained_from=logged.served_at[0],
        trained_to=logged.served_at[-1],
        created_by=created_by,
    )
    decision = _decide(metrics)
    if auto_activate and decision.startswith("better"):
        record = ctr_models.activate(db, record.id, by=created_by or "auto")
    return TrainingOutcome(record.id, record.version, record.status, metrics, decision)


def _decide(metrics: dict[str, Any]) -> str:
    challenger = metrics["model"]["log_loss"]
    if metrics["active"] is not None:
        incumbent, name = metrics["active"]["log_loss"], f"active {metrics['active']['version']}"
    else:
        incumbent, name = metrics["prior"]["log_loss"], "the constant prior"
    verdict = "better than" if challenger < incumbent else "not better than"
    return f"{verdict} {name} on the held-out rows (log loss {challenger:.5f} vs {incumbent:.5f})"

"""Train, calibrate, evaluate and register a CTR model on what the auction logged: every
served ad that was shown (an impression event arrived), labelled by whether a click followed
within ``CLICK_WINDOW``.

The logged rows are split by time, never at random: the oldest 70% train the trees, the next
15% fit the calibration, and the newest 15% are the held-out test on which the new model, the
constant prior and the active model are all compared. Nothing from the future reaches training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, exists, func, select

from adsmanager.db.ctr_models import CtrModel
from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent, ServedAd
from adsmanager.services import ctr_models
from adsmanager.services.errors import Conflict
from adsmanager.vocabulary import ModelStatus
from auction import evaluation
from auction.calibration import calibrate
from auction.ctr import ConstantPredictor, LightGBMPredictor, TrainingRows, train
from auction.features import FEATURE_NAMES, FEATURE_SPEC_HASH
from auction.tokens import CLICK, IMPRESSION

TRAIN_SHARE, CALIBRATION_SHARE = 0.70, 0.15
MIN_ROWS = 100
CHUNK_ROWS = 50_000
_POSITION = FEATURE_NAMES.index("position")
_IS_CPC = FEATURE_NAMES.index("billing_is_cpc")
# A click counts for training when it came within this time of its impression. Every row
# then has the same label, whenever the window is read: a click reported a day late (a
# token lives for a day) would otherwise be a click for an old impression and not for a new
# one, and the newest rows, the held-out test, would look less clicked than they were.
CLICK_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True)
class LoggedRows:
    """Shown ads, oldest first: features and click labels, when each was served (numpy
    datetime64 in UTC) and which ad group it was (integer codes: equal codes, same group)."""

    rows: TrainingRows
    served_at: np.ndarray
    ad_groups: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def part(self, start: int, stop: int) -> LoggedRows:
        return LoggedRows(
            TrainingRows(self.rows.X[start:stop], self.rows.y[start:stop]),
            self.served_at[start:stop],
            self.ad_groups[start:stop],
        )

    def after(self, moment: datetime) -> LoggedRows:
        """The rows served after ``moment``."""
        at = np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "us")
        return self.part(int(np.searchsorted(self.served_at, at, side="right")), len(self))

    def moment(self, index: int) -> datetime:
        return self.served_at[index].astype("datetime64[us]").item().replace(tzinfo=UTC)

    @property
    def first(self) -> datetime:
        return self.moment(0)

    @property
    def last(self) -> datetime:
        return self.moment(len(self) - 1)


def logged_rows_from(
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, Sequence[str]]],
) -> LoggedRows:
    """Assemble (X, y, served_at, ad group ids) chunks, sorted by time if they were not."""
    codes: dict[str, int] = {}
    parts = [
        (X, y, at, np.fromiter((codes.setdefault(i, len(codes)) for i in ids), np.int64, len(ids)))
        for X, y, at, ids in chunks
    ]
    if not parts:
        width = len(FEATURE_NAMES)
        empty = np.zeros((0, width)), np.zeros(0, np.int8), np.zeros(0, "datetime64[us]")
        return LoggedRows(TrainingRows(empty[0], empty[1]), empty[2], np.zeros(0, np.int64))
    X, y, at, groups = (np.concatenate(column) for column in zip(*parts, strict=True))
    if len(at) > 1 and (at[1:] < at[:-1]).any():
        order = np.argsort(at, kind="stable")
        X, y, at, groups = X[order], y[order], at[order], groups[order]
    return LoggedRows(TrainingRows(X, y.astype(np.int8)), at, groups)


@dataclass(frozen=True)
class TrainingOutcome:
    model_id: str
    version: str
    status: ModelStatus
    metrics: dict[str, Any]
    decision: str


def _shown():
    return exists().where(
        and_(AdEvent.impression_id == ServedAd.impression_id, AdEvent.event_type == IMPRESSION)
    )


def _clicked_at():
    return (
        select(func.min(AdEvent.occurred_at))
        .where(AdEvent.impression_id == ServedAd.impression_id, AdEvent.event_type == CLICK)
        .scalar_subquery()
    )


def _clicked_in_window(clicked_at: datetime | None, served_at: datetime) -> int:
    return int(clicked_at is not None and clicked_at < served_at + CLICK_WINDOW)


def logged_rows(
    db: Database, since: datetime | None = None, until: datetime | None = None
) -> LoggedRows:
    """Shown ads in ``[since, until)``, oldest first; rows logged under another feature spec
    are left out."""
    return logged_rows_from(logged_chunks(db, since, until))


def logged_chunks(
    db: Database, since: datetime | None = None, until: datetime | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]]:
    """The rows of the window, streamed from the database in chunks."""
    statement = (
        select(ServedAd.features, _clicked_at(), ServedAd.served_at, ServedAd.ad_group_id)
        .where(_shown(), ServedAd.feature_spec == FEATURE_SPEC_HASH)
        .order_by(ServedAd.served_at, ServedAd.impression_id)
        .execution_options(yield_per=CHUNK_ROWS)
    )
    if since is not None:
        statement = statement.where(ServedAd.served_at >= since)
    if until is not None:
        statement = statement.where(ServedAd.served_at < until)
    width = len(FEATURE_NAMES)
    with db.read() as session:
        for chunk in session.execute(statement).partitions():
            yield (
                np.asarray([row[0] for row in chunk], dtype=np.float64).reshape(len(chunk), width),
                np.asarray([_clicked_in_window(row[1], row[2]) for row in chunk], np.int8),
                np.asarray([_utc_naive(row[2]) for row in chunk], dtype="datetime64[us]"),
                [row[3] for row in chunk],
            )


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def split_by_time(logged: LoggedRows) -> tuple[LoggedRows, LoggedRows, LoggedRows]:
    """(train, calibration, test): consecutive slices of the time-ordered rows. Rows served
    at the same moment (the ads of one page) stay in one part: a cut between them would
    let a part learn from its successor's moment."""
    first = _cut(logged, TRAIN_SHARE)
    second = _cut(logged, TRAIN_SHARE + CALIBRATION_SHARE)
    return logged.part(0, first), logged.part(first, second), logged.part(second, len(logged))


def _cut(logged: LoggedRows, share: float) -> int:
    """The index ``share`` of the way through, moved back to the first row of its moment."""
    index = int(len(logged) * share)
    if index == len(logged):
        return index
    return int(np.searchsorted(logged.served_at, logged.served_at[index], side="left"))


def fit(
    train_part: TrainingRows,
    calibration_part: TrainingRows,
    *,
    num_trees: int,
    on_tree: Callable[[int], None] | None = None,
) -> LightGBMPredictor:
    """Trees on the first part, a calibration of their output on the second (isotonic, or
    Platt scaling when it holds few clicks), and the slot's position effect (its slope from
    the first part)."""
    trees = train(train_part, num_trees=num_trees, on_iteration=on_tree)
    return calibrate(trees, train_part, calibration_part)


def _groups(test: LoggedRows, seen_ad_groups: np.ndarray) -> dict[str, np.ndarray]:
    X = test.rows.X
    return {
        "position": X[:, _POSITION].astype(int),
        "billing_event": np.where(X[:, _IS_CPC] == 1.0, "CPC", "CPM"),
        # New: the ad group has no impression in the training part.
        "ad_age": np.where(np.isin(test.ad_groups, seen_ad_groups), "established", "new"),
    }


def evaluate_on(
    model: LightGBMPredictor, test: LoggedRows, seen_ad_groups: np.ndarray
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
    logged: LoggedRows | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    num_trees: int = 200,
    auto_activate: bool = True,
    created_by: str | None = None,
    on_tree: Callable[[int], None] | None = None,
) -> TrainingOutcome:
    """Train a challenger on the window, register it as a candidate with its evaluation,
    and activate it when ``auto_activate`` and it beats the active model (or, with none
    active, the constant prior) on the same held-out rows. ``logged`` (rows read from a
    file, say) replaces the database's rows of ``[since, until)``."""
    if logged is None:
        logged = logged_rows(db, since, until)
    if len(logged) < MIN_ROWS or logged.rows.y.sum() == 0:
        raise ValueError(f"not enough logged impressions with clicks to train on ({len(logged)})")
    train_part, calibration_part, test = split_by_time(logged)
    if not len(train_part) or test.rows.y.sum() == 0 or calibration_part.rows.y.sum() == 0:
        raise ValueError("a part of the time split has no row or no click: log more traffic")
    model = fit(train_part.rows, calibration_part.rows, num_trees=num_trees, on_tree=on_tree)
    seen = np.unique(train_part.ad_groups)
    prior = ConstantPredictor.fit(train_part.rows).pctr
    metrics: dict[str, Any] = {
        "rows": {"train": len(train_part), "calibration": len(calibration_part), "test": len(test)},
        "test_window": {"from": test.first.isoformat(), "to": test.last.isoformat()},
        "model": evaluate_on(model, test, seen),
        "uncalibrated": evaluation.evaluate(test.rows.y, model.raw_rows(test.rows.X)),
        "prior": evaluation.evaluate(test.rows.y, np.full(len(test), prior)),
        "active": None,
    }
    active_record = ctr_models.active(db)
    if active_record is not None:
        try:
            active = ctr_models.load(active_record)
        except ValueError:
            active = None  # it cannot be loaded here either: nothing to beat
        if active is not None:
            metrics["active"] = _compare(model, active, active_record, test, seen)
    record = ctr_models.register(
        db,
        model,
        metrics=metrics,
        training_rows=len(train_part),
        # The newest row it learned from (trees or calibration); the test rows come after.
        trained_from=logged.first,
        trained_to=calibration_part.last,
        created_by=created_by,
    )
    decision = _decide(metrics)
    if auto_activate and decision.startswith("better"):
        try:
            record = ctr_models.activate(
                db,
                record.id,
                by=created_by or "auto",
                # Only the model it beat may give way to it.
                replacing=active_record.id if active_record is not None else None,
            )
        except Conflict as conflict:
            if conflict.code != "active_model_changed":
                raise
            decision += "; left a candidate: another model became active meanwhile"
    return TrainingOutcome(record.id, record.version, record.status, metrics, decision)


def _compare(
    model: LightGBMPredictor,
    active: LightGBMPredictor,
    active_record: CtrModel,
    test: LoggedRows,
    seen: np.ndarray,
) -> dict[str, Any]:
    """The active model's evaluation on the held-out rows it did not learn from (served
    after its ``trained_to``), with the challenger's log loss on the same rows: scored on
    rows it trained on, the active model would look better than it is."""
    unseen = test
    if active_record.trained_to is not None:
        unseen = test.after(active_record.trained_to)
    if unseen.rows.y.sum() == 0:
        return {"version": active.version, "rows": len(unseen)}
    report = evaluate_on(active, unseen, seen)
    report["rows"] = len(unseen)
    challenger = evaluation.evaluate(unseen.rows.y, model.predict_rows(unseen.rows.X))
    report["model_log_loss"] = challenger["log_loss"]
    return report


def _decide(metrics: dict[str, Any]) -> str:
    active = metrics["active"]
    if active is None:
        challenger, incumbent = metrics["model"]["log_loss"], metrics["prior"]["log_loss"]
        name = "the constant prior on the held-out rows"
    elif "log_loss" not in active:
        return (
            f"not compared with active {active['version']}: no held-out row with a click is "
            "newer than what it learned from"
        )
    else:
        challenger, incumbent = active["model_log_loss"], active["log_loss"]
        name = f"active {active['version']} on the held-out rows"
        if active["rows"] < metrics["rows"]["test"]:
            name += f" it did not learn from ({active['rows']})"
    verdict = "better than" if challenger < incumbent else "not better than"
    return f"{verdict} {name} (log loss {challenger:.5f} vs {incumbent:.5f})"


def evaluate_registered(
    db: Database,
    model_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """A registered model's evaluation on the logged rows of a window (for example the
    hours since it was activated), beside the constant prior at the window's own rate."""
    record = ctr_models.get(db, model_id)
    logged = logged_rows(db, since, until)
    if len(logged) == 0 or logged.rows.y.sum() == 0:
        raise ValueError(f"no logged impressions with clicks in the window ({len(logged)})")
    try:
        model = ctr_models.load(record)
    except ValueError as error:
        raise Conflict("model_unusable", f"This model cannot be loaded: {error}") from None
    predicted = model.predict_rows(logged.rows.X)
    groups = _groups(logged, np.empty(0, dtype=np.int64))
    del groups["ad_age"]  # which ad groups the model saw is not known from this window alone
    report = evaluation.evaluate(logged.rows.y, predicted, groups=groups)
    report["version"] = model.version
    return {
        "rows": len(logged),
        "window": {"from": logged.first.isoformat(), "to": logged.last.isoformat()},
        "model": report,
        "prior": evaluation.evaluate(logged.rows.y, np.full(len(logged), logged.rows.click_rate)),
    }

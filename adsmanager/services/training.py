"""Train the CTR model on what the auction logged: every served ad that was shown (an
impression event arrived), labelled by whether a click followed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import and_, exists, select

from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent, ServedAd
from auction.ctr import ConstantPredictor, TrainingRows, auc, log_loss, train
from auction.tokens import CLICK, IMPRESSION


@dataclass(frozen=True)
class TrainingReport:
    rows: int
    train_rows: int
    holdout_rows: int
    click_rate: float
    model_version: str
    num_trees: int
    holdout_log_loss: float
    holdout_auc: float
    prior_log_loss: float
    written: bool


def _event(event_type: str):
    return exists().where(
        and_(AdEvent.impression_id == ServedAd.impression_id, AdEvent.event_type == event_type)
    )


def logged_rows(db: Database, since: datetime | None = None) -> TrainingRows:
    statement = (
        select(ServedAd.features, _event(CLICK))
        .where(_event(IMPRESSION))
        .order_by(ServedAd.served_at)
    )
    if since is not None:
        statement = statement.where(ServedAd.served_at >= since)
    with db.read() as session:
        rows = session.execute(statement).all()
    if not rows:
        return TrainingRows(np.zeros((0, 0)), np.zeros(0))
    return TrainingRows(
        np.asarray([features for features, _ in rows], dtype=np.float64),
        np.asarray([int(clicked) for _, clicked in rows], dtype=np.int8),
    )


def train_from_logs(
    db: Database,
    output: Path,
    *,
    since: datetime | None = None,
    num_trees: int = 200,
    holdout_share: float = 0.2,
    force: bool = False,
) -> TrainingReport:
    """Train on the oldest rows, evaluate on the newest (no peeking into the future), and
    write the model to ``output`` only if it beats the constant prior there (or ``force``):
    a model worse than no model would misprice every click."""
    rows = logged_rows(db, since)
    if len(rows) < 100 or rows.y.sum() == 0:
        raise ValueError(f"not enough logged impressions with clicks to train on ({len(rows)})")
    cut = int(len(rows) * (1 - holdout_share))
    head = TrainingRows(rows.X[:cut], rows.y[:cut])
    tail = TrainingRows(rows.X[cut:], rows.y[cut:])
    model = train(head, num_trees=num_trees)
    predicted = model.predict_rows(tail.X)
    prior = np.full(len(tail), ConstantPredictor.fit(head).pctr)
    model_loss, prior_loss = log_loss(tail.y, predicted), log_loss(tail.y, prior)
    written = force or model_loss < prior_loss
    if written:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(model.to_model_string())
    return TrainingReport(
        rows=len(rows),
        train_rows=len(head),
        holdout_rows=len(tail),
        click_rate=rows.click_rate,
        model_version=model.version,
        num_trees=model.num_trees,
        holdout_log_loss=model_loss,
        holdout_auc=auc(tail.y, predicted) if 0 < tail.y.sum() < len(tail) else float("nan"),
        prior_log_loss=prior_loss,
        written=written,
    )

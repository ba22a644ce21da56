"""Keeping the CTR model fresh."""

from __future__ import annotations

from datetime import timedelta

from adsmanager.config import Settings
from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.services import training


def retrain(db: Database, settings: Settings) -> str:
    """Retrain on a sliding window of logs; activation only if it beats the active model."""
    now = utcnow()
    outcome = training.train_and_register(
        db,
        since=now - timedelta(days=settings.retrain_days),
        # The newest impressions may still get their clicks: leave them for the next run.
        until=now - training.CLICK_WINDOW,
        num_trees=settings.retrain_trees,
        auto_activate=settings.auto_activate_models,
        created_by="scheduler",
    )
    return f"{outcome.model_id} ({outcome.version}): {outcome.decision}; {outcome.status}"

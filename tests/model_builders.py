"""Small real models for registry and hot-swap tests: trained on simulated impressions and
evaluated honestly on held-out ones."""

from __future__ import annotations

from datetime import UTC, datetime

from adsmanager.services import ctr_models
from auction import ctr, evaluation, simulator
from auction.calibration import calibrate

NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)


def simulated_rows(seed: int, impressions: int = 6000) -> ctr.TrainingRows:
    users = simulator.make_users(300, seed=seed)
    market = simulator.make_market(6, 4, seed=seed, now=NOW)
    records = simulator.simulate_impressions(users, market, impressions, seed=seed, now=NOW)
    return simulator.training_rows(records)


def trained(seed: int, trees: int = 5) -> tuple[ctr.LightGBMPredictor, dict]:
    rows = simulated_rows(seed)
    third = len(rows) // 3
    head = ctr.TrainingRows(rows.X[:third], rows.y[:third])
    middle = ctr.TrainingRows(rows.X[third : 2 * third], rows.y[third : 2 * third])
    tail = ctr.TrainingRows(rows.X[2 * third :], rows.y[2 * third :])
    model = ctr.train(head, num_trees=trees, seed=seed)
    model = calibrate(model, head, middle)
    predicted = model.predict_rows(tail.X)
    report = evaluation.evaluate(tail.y, predicted)
    report["version"] = model.version
    report["reliability"] = evaluation.reliability_bins(tail.y, predicted)
    metrics = {"rows": {"train": len(head), "calibration": len(middle), "test": len(tail)}}
    return model, {**metrics, "model": report, "active": None}


def register(db, seed: int = 1, trees: int = 5):
    model, metrics = trained(seed, trees)
    return ctr_models.register(
        db,
        model,
        metrics=metrics,
        training_rows=metrics["rows"]["train"],
        trained_from=NOW,
        trained_to=NOW,
        created_by="test",
    )

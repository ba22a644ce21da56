"""What people look at to judge a model: its evaluation as text and its reliability diagram."""

from __future__ import annotations

import io
from typing import Any

from adsmanager.db.base import utcnow
from adsmanager.db.ctr_models import CtrModel
from auction import evaluation

_CURVES = (("model", "this model"), ("active", "model active at training time"))


def reliability_png(record: CtrModel) -> bytes:
    """The diagram drawn from the bins stored with the evaluation."""
    metrics = record.metrics
    curves = {
        label: metrics[key]["reliability"]
        for key, label in _CURVES
        if metrics.get(key) and metrics[key].get("reliability")
    }
    buffer = io.BytesIO()
    evaluation.reliability_diagram(curves, buffer, title=f"{record.version}: held-out reliability")
    return buffer.getvalue()


def staleness_seconds(record: CtrModel) -> int | None:
    """How old the newest impression the model was trained on is: how stale it would be,
    serving now."""
    if record.trained_to is None:
        return None
    return int((utcnow() - record.trained_to).total_seconds())


def summary_lines(record: CtrModel) -> list[str]:
    """The evaluation in a few lines for a terminal."""
    metrics = record.metrics
    lines = [
        f"{record.id}  {record.version}  {record.status}  {record.num_trees} trees, "
        f"{record.training_rows} training rows, {metrics['rows']['test']} held-out rows",
        f"  newest training data {_age(staleness_seconds(record))} old",
    ]
    return lines + report_lines(metrics)


def report_lines(metrics: dict[str, Any]) -> list[str]:
    """Headline metrics of each evaluated model, and the model's calibration by group."""
    lines = []
    for key in ("model", "uncalibrated", "prior", "active"):
        report = metrics.get(key)
        if report and "log_loss" in report:
            lines.append(f"  {key:13s} {_headline(report)}")
    active = metrics.get("active")
    if active and active.get("rows", metrics["rows"]["test"]) < metrics["rows"]["test"]:
        # It learned from the older held-out rows, so it is judged on the newer ones only.
        line = f"  active judged on the {active['rows']} held-out rows after its training data"
        if "log_loss" in active:
            line += f" (this model there: log loss {active['model_log_loss']:.5f})"
        lines.append(line)
    for group, values in metrics["model"].get("by", {}).items():
        ratios = ", ".join(
            f"{value}: {_ratio(v['calibration_ratio'])}{_clicks(v)}" for value, v in values.items()
        )
        lines.append(f"  calibration by {group}: {ratios}")
    return lines


def _clicks(group: dict[str, Any]) -> str:
    # How far to trust a group's ratio: a group of five rows and one click gives any ratio.
    clicks = group["clicks"]
    return f" ({clicks:,} click{'' if clicks == 1 else 's'})"


def _headline(report: dict[str, Any]) -> str:
    parts = [f"log loss {report['log_loss']:.5f}", f"NE {report['normalized_entropy']:.4f}"]
    if report.get("auc") is not None:
        parts.append(f"AUC {report['auc']:.4f}")
    parts.append(f"calibration {_ratio(report['calibration_ratio'])}")
    return "  ".join(parts)


def _ratio(value: float | None) -> str:
    # No click in a group leaves its ratio undefined.
    return "n/a" if value is None else f"{value:.3f}"


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "of unknown age"
    hours, remainder = divmod(seconds, 3600)
    return f"{hours} h {remainder // 60:02d} min"

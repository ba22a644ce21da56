"""The schedule, as data: each job is a thin function over a service, named here with when
it runs. ``adsmanager scheduler`` runs them; ``adsmanager jobs run NAME`` runs one by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    # "module:function" taking (db, settings) and returning a one-line summary.
    function: str
    # An APScheduler trigger and its arguments ("interval" with hours=1, "cron" with hour=3).
    trigger: str
    trigger_args: dict[str, Any] = field(default_factory=dict)
    description: str = ""


SCHEDULE: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        name="retrain_ctr_model",
        function="adsmanager.jobs.ctr_model:retrain",
        trigger="interval",
        trigger_args={"hours": 1},
        description="Train a CTR model on the last days of logs; activate it if it is better.",
    ),
    ScheduledJob(
        name="post_spend",
        function="adsmanager.jobs.billing:post_spend",
        trigger="interval",
        trigger_args={"minutes": 1},
        description="Post charged impressions and clicks to the ledger, each exactly once.",
    ),
    ScheduledJob(
        name="reconcile_stripe",
        function="adsmanager.jobs.billing:reconcile_stripe",
        trigger="cron",
        trigger_args={"hour": 3, "minute": 15},
        description="Compare yesterday's Stripe payments and refunds with the ledger.",
    ),
)


def by_name(name: str, schedule: tuple[ScheduledJob, ...] = SCHEDULE) -> ScheduledJob:
    for job in schedule:
        if job.name == name:
            return job
    raise KeyError(name)

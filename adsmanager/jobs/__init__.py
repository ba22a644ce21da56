"""The schedule, as data: each job is a thin function over a service, named here with when
it runs. ``adsmanager scheduler`` runs them; ``adsmanager jobs run NAME`` runs one by hand."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from adsmanager.config import clock_time


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
    ScheduledJob(
        name="compute_payout_run",
        function="adsmanager.jobs.creator_fund:compute_yesterday",
        trigger="cron",
        # Replaced by the time in the settings (payout_compute_at), see schedule_for.
        trigger_args={"hour": 1, "minute": 30},
        description="Compute yesterday's creator-fund payout run as a draft for finance.",
    ),
    ScheduledJob(
        name="pay_payout_runs",
        function="adsmanager.jobs.creator_fund:pay_approved",
        trigger="interval",
        trigger_args={"minutes": 15},
        description="Pay approved payout runs; does nothing unless payout_auto_pay is on.",
    ),
    ScheduledJob(
        name="forget_sign_in_attempts",
        function="adsmanager.jobs.people:forget_sign_in_attempts",
        trigger="interval",
        trigger_args={"hours": 1},
        description="Delete sign-in attempts the rate limit no longer counts.",
    ),
)


def schedule_for(settings) -> tuple[ScheduledJob, ...]:
    """The schedule with the times the settings choose."""
    hour, minute = clock_time(settings.payout_compute_at)
    return tuple(
        replace(job, trigger_args={"hour": hour, "minute": minute})
        if job.name == "compute_payout_run"
        else job
        for job in SCHEDULE
    )


def by_name(name: str, schedule: tuple[ScheduledJob, ...] = SCHEDULE) -> ScheduledJob:
    for job in schedule:
        if job.name == name:
            return job
    raise KeyError(name)

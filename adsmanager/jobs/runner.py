"""Run one job of the schedule and record the run."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from adsmanager.config import Settings
from adsmanager.db.database import Database
from adsmanager.db.jobs import JobRun
from adsmanager.jobs import SCHEDULE, ScheduledJob, by_name
from adsmanager.services import scheduling


def resolve(reference: str) -> Callable[[Database, Settings], str]:
    module, _, function = reference.partition(":")
    return getattr(importlib.import_module(module), function)


def run_job(
    name: str,
    db: Database,
    settings: Settings,
    *,
    trigger: str = "manual",
    schedule: tuple[ScheduledJob, ...] = SCHEDULE,
) -> JobRun:
    """KeyError for a name not in the schedule."""
    function = resolve(by_name(name, schedule).function)
    return scheduling.record_run(name, trigger, db, lambda: function(db, settings))

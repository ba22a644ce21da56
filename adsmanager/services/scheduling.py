"""The scheduler's lease (only one scheduler runs jobs at a time) and the record of job runs.

The lease is a row per name: a scheduler takes it when it is free or expired, and renews it
well before it expires. Taking it is one conditional UPDATE after an INSERT that does nothing
when the row exists, so two schedulers asking at once cannot both get it (PostgreSQL makes the
second wait for the first's commit; SQLite serialises writers).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import or_, select, update

from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.db.jobs import JobRun, SchedulerLease
from adsmanager.db.upsert import insert_for

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


def hold_lease(db: Database, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until now + ``ttl``; False if another
    holder has it and it has not expired."""
    now = utcnow()
    with db.transaction() as session:
        session.execute(
            insert_for(session, SchedulerLease)
            .values(name=name, holder=holder, expires_at=now + ttl)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        taken = session.execute(
            update(SchedulerLease)
            .where(
                SchedulerLease.name == name,
                or_(SchedulerLease.holder == holder, SchedulerLease.expires_at <= now),
            )
            .values(holder=holder, expires_at=now + ttl)
        )
        return taken.rowcount == 1


def release_lease(db: Database, name: str, holder: str) -> None:
    with db.transaction() as session:
        session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
            .values(expires_at=utcnow())
        )


def lease_holder(db: Database, name: str) -> str | None:
    with db.read() as session:
        lease = session.get(SchedulerLease, name)
        return lease.holder if lease is not None and lease.expires_at > utcnow() else None


def record_run(job: str, trigger: str, db: Database, work: Callable[[], str]) -> JobRun:
    """Run ``work`` and record it: start, end, outcome, its summary or the error. The error
    is recorded, not raised: a failing job must not stop the scheduler."""
    with db.transaction() as session:
        run = JobRun(job=job, trigger=trigger, started_at=utcnow(), outcome=RUNNING)
        session.add(run)
    try:
        summary, outcome, error = work(), SUCCEEDED, None
    except Exception as failure:  # recorded for people to read; the next run still happens
        summary, outcome = None, FAILED
        error = "".join(traceback.format_exception_only(failure)).strip()
        error += "\n" + traceback.format_exc(limit=-3)
    with db.transaction() as session:
        run = session.get(JobRun, run.id)
        run.finished_at, run.outcome, run.summary, run.error = utcnow(), outcome, summary, error
        return run


def recent_runs(db: Database, job: str | None = None, limit: int = 20) -> list[JobRun]:
    statement = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job is not None:
        statement = statement.where(JobRun.job == job)
    with db.read() as session:
        return list(session.scalars(statement))

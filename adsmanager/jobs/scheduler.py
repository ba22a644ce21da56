"""``adsmanager scheduler``: APScheduler with a persistent SQLAlchemy job store, run by one
process at a time.

Any number of schedulers may be started (for availability); each asks for the database lease
every few seconds. The holder runs APScheduler; the others stand by and take over when the
holder stops renewing (it stopped, crashed or lost the database) and the lease expires. Each
run also checks the lease just before it starts, so a holder that lost it runs nothing more.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import UTC, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from adsmanager.config import Settings
from adsmanager.db.database import Database
from adsmanager.jobs import SCHEDULE, ScheduledJob
from adsmanager.jobs.runner import run_job
from adsmanager.services import scheduling

log = logging.getLogger(__name__)
LEASE = "scheduler"

# The scheduler of this process: APScheduler keeps only a reference to ``run_scheduled`` and
# the job's name in its store, so the running scheduler is found here.
_running: Scheduler | None = None


def run_scheduled(name: str) -> None:
    scheduler = _running
    try:
        holding = scheduler is not None and scheduler.holds_lease()
    except Exception:
        log.exception("skipped %s: the lease could not be checked", name)
        return
    if not holding:
        log.warning("skipped %s: this process does not hold the scheduler lease", name)
        return
    run = run_job(
        name, scheduler.db, scheduler.settings, trigger="schedule", schedule=scheduler.schedule
    )
    log.info("job %s %s: %s", name, run.outcome, run.summary or run.error)


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        schedule: tuple[ScheduledJob, ...] = SCHEDULE,
        lease_seconds: float = 30.0,
    ) -> None:
        self.settings = settings
        self.db = db
        self.schedule = schedule
        self.lease = timedelta(seconds=lease_seconds)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._aps: BackgroundScheduler | None = None

    def holds_lease(self) -> bool:
        return scheduling.hold_lease(self.db, LEASE, self.holder, self.lease)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: hold the lease and run jobs, or stand by."""
        global _running
        _running = self
        try:
            while not stop.is_set():
                try:
                    holding = self.holds_lease()
                except Exception:  # the database is away: stand by, ask again later
                    log.exception("scheduler %s could not reach the lease", self.holder)
                    holding = False
                if holding:
                    self._start()
                else:
                    self._stop()
                stop.wait(self.lease.total_seconds() / 3)
        finally:
            self._stop()
            _running = None
            try:
                scheduling.release_lease(self.db, LEASE, self.holder)
            except Exception:  # it expires on its own
                log.exception("scheduler %s could not release the lease", self.holder)

    def _start(self) -> None:
        if self._aps is not None:
            return
        log.info("scheduler %s holds the lease: running jobs", self.holder)
        self._aps = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.db.engine)},
            executors={"default": ThreadPoolExecutor(1)},
            # A run missed while no scheduler held the lease, or while another job held the
            # one thread, runs once as soon as it can: never dropped (coalesced, no grace
            # limit). The daily payout computation also catches up on the days it missed.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._aps.start()
        wanted = {job.name for job in self.schedule}
        for stale in [job for job in self._aps.get_jobs() if job.id not in wanted]:
            stale.remove()
        for job in self.schedule:
            # A job already in the store keeps its next run time across restarts, unless its
            # trigger changed in the schedule.
            stored = self._aps.get_job(job.name)
            if stored is None:
                self._aps.add_job(
                    run_scheduled,
                    job.trigger,
                    args=[job.name],
                    id=job.name,
                    name=_fingerprint(job),
                    **job.trigger_args,
                )
            else:
                if stored.name != _fingerprint(job):
                    self._aps.reschedule_job(job.name, trigger=job.trigger, **job.trigger_args)
                    self._aps.modify_job(job.name, name=_fingerprint(job))
                # The store keeps each job's options as they were when it was added: a job
                # stored by an older release still had a 10-minute misfire limit.
                if stored.misfire_grace_time is not None or not stored.coalesce:
                    self._aps.modify_job(job.name, misfire_grace_time=None, coalesce=True)

    def _stop(self) -> None:
        if self._aps is None:
            return
        log.info("scheduler %s stands by", self.holder)
        self._aps.shutdown(wait=True)
        self._aps = None


def _fingerprint(job: ScheduledJob) -> str:
    return f"{job.name} {job.trigger} {sorted(job.trigger_args.items())}"

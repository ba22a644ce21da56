"""Scheduled jobs: the lease that lets one scheduler run them, recorded runs, and two
schedulers started at once running a due job once."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, text, update

from adsmanager.db.base import utcnow
from adsmanager.db.jobs import JobRun, SchedulerLease
from adsmanager.jobs import SCHEDULE, ScheduledJob
from adsmanager.jobs.runner import run_job
from adsmanager.services import scheduling, users

ROOT = Path(__file__).resolve().parents[1]
MINUTE = timedelta(minutes=1)


def probe(db, settings) -> str:
    return "probed"


def broken(db, settings) -> str:
    raise RuntimeError("the job failed on purpose")


TEST_SCHEDULE = (
    ScheduledJob("probe", "tests.test_scheduler:probe", "interval", {"hours": 1}),
    ScheduledJob("broken", "tests.test_scheduler:broken", "interval", {"hours": 1}),
)


def test_one_holder_at_a_time_until_the_lease_expires(db):
    assert scheduling.hold_lease(db, "scheduler", "a", MINUTE)
    assert not scheduling.hold_lease(db, "scheduler", "b", MINUTE)
    assert scheduling.hold_lease(db, "scheduler", "a", MINUTE)  # renewing
    assert scheduling.lease_holder(db, "scheduler") == "a"
    with db.transaction() as session:
        session.execute(update(SchedulerLease).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert scheduling.hold_lease(db, "scheduler", "b", MINUTE)
    assert not scheduling.hold_lease(db, "scheduler", "a", MINUTE)
    scheduling.release_lease(db, "scheduler", "b")
    assert scheduling.lease_holder(db, "scheduler") is None
    assert scheduling.hold_lease(db, "scheduler", "a", MINUTE)


def test_a_run_is_recorded_with_its_outcome(db, app):
    settings = app.extensions["adsmanager.settings"]
    run = run_job("probe", db, settings, schedule=TEST_SCHEDULE)
    assert (run.outcome, run.summary, run.trigger) == ("succeeded", "probed", "manual")
    assert run.finished_at >= run.started_at
    failed = run_job("broken", db, settings, schedule=TEST_SCHEDULE)
    assert failed.outcome == "failed" and "the job failed on purpose" in failed.error
    assert [r.job for r in scheduling.recent_runs(db)] == ["broken", "probe"]


def test_the_retraining_job_without_logs_fails_with_the_reason(db, app):
    run = run_job("retrain_ctr_model", db, app.extensions["adsmanager.settings"])
    assert run.outcome == "failed"
    assert "not enough logged impressions" in run.error
    assert [job.name for job in SCHEDULE] == [
        "retrain_ctr_model",
        "post_spend",
        "reconcile_stripe",
        "compute_payout_run",
        "pay_payout_runs",
        "forget_sign_in_attempts",
    ]


SCHEDULER_PROCESS = textwrap.dedent(
    """
    import sys, threading, signal
    from datetime import UTC, datetime, timedelta
    from adsmanager.config import Settings
    from adsmanager.db import Database
    from adsmanager.jobs import ScheduledJob
    from adsmanager.jobs.scheduler import Scheduler

    run_at = datetime.fromisoformat(sys.argv[1])
    schedule = (ScheduledJob("probe", "tests.test_scheduler:probe", "date", {"run_date": run_at}),)
    settings = Settings.from_env()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    Scheduler(settings, Database(settings.database_url), schedule=schedule,
              lease_seconds=3).run(stop)
    """
)


def _scheduler_env(database_url, tmp_path) -> dict:
    return {
        **os.environ,
        "ADSMANAGER_DATABASE_URL": database_url,
        "ADSMANAGER_INSTANCE_PATH": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }


def test_a_run_missed_while_no_scheduler_ran_runs_when_one_starts(db, database_url, tmp_path):
    """The schedulers were down for 20 minutes over a job's time: it runs once one is back,
    instead of being dropped as "missed" (it used to be, past 10 minutes)."""
    run_at = (utcnow() - timedelta(minutes=20)).isoformat()
    scheduler = subprocess.Popen(
        [sys.executable, "-c", SCHEDULER_PROCESS, run_at],
        env=_scheduler_env(database_url, tmp_path),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _runs(db):
            time.sleep(0.2)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        error = scheduler.communicate(timeout=20)[1].decode()
    assert [(r.job, r.outcome) for r in _runs(db)] == [("probe", "succeeded")], error


def test_two_schedulers_started_at_once_run_a_due_job_once(db, database_url, tmp_path):
    run_at = (utcnow() + timedelta(seconds=3)).isoformat()
    env = _scheduler_env(database_url, tmp_path)
    schedulers = [
        subprocess.Popen(
            [sys.executable, "-c", SCHEDULER_PROCESS, run_at],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _runs(db):
            time.sleep(0.2)
        time.sleep(3)  # time for a second, wrong run to show up
    finally:
        for process in schedulers:
            process.send_signal(signal.SIGTERM)
        errors = [process.communicate(timeout=20)[1].decode() for process in schedulers]
    runs = _runs(db)
    assert [(r.job, r.trigger, r.outcome) for r in runs] == [("probe", "schedule", "succeeded")], (
        errors
    )
    assert all(process.returncode == 0 for process in schedulers), errors


def _runs(db):
    with db.read() as session:
        return list(session.scalars(select(JobRun)))


def test_the_sign_in_attempts_job_forgets_only_what_the_limit_no_longer_counts(db, app):
    now = utcnow()
    for minutes_ago in (1, 14, 16, 60 * 24):
        users.sign_in(
            db,
            "nobody@example.com",
            "wrong password",
            "203.0.113.9",
            now - timedelta(minutes=minutes_ago),
        )
    run = run_job("forget_sign_in_attempts", db, app.extensions["adsmanager.settings"])
    assert run.outcome == "succeeded", run.error
    assert run.summary.startswith("2 sign-in attempt(s)")
    assert users.forget_attempts_before(db, now) == 2  # the two recent ones were kept


def test_jobs_stored_by_an_older_release_get_no_misfire_limit(db, app):
    """The job store keeps each job's options from when it was added: a job stored with the
    old 10-minute limit must not keep dropping late runs after an upgrade."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from adsmanager.jobs.scheduler import Scheduler, _fingerprint, run_scheduled

    [probe_job, _] = TEST_SCHEDULE
    older = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=db.engine)})
    older.add_job(
        run_scheduled,
        "interval",
        args=["probe"],
        id="probe",
        name=_fingerprint(probe_job),
        misfire_grace_time=600,
        coalesce=False,
        hours=1,
    )  # added while stopped: written to the store when it starts
    older.start(paused=True)
    older.shutdown(wait=False)
    scheduler = Scheduler(app.extensions["adsmanager.settings"], db, schedule=(probe_job,))
    scheduler._start()
    try:
        stored = scheduler._aps.get_job("probe")
        assert (stored.misfire_grace_time, stored.coalesce) == (None, True)
    finally:
        scheduler._stop()
        with db.transaction() as session:
            session.execute(text("DELETE FROM apscheduler_jobs"))

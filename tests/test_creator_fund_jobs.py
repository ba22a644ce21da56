"""The creator fund's scheduled jobs: yesterday's draft every day at the configured time,
and paying approved runs only when the platform turned automatic paying on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from adsmanager.db.base import utcnow
from adsmanager.jobs import by_name, schedule_for
from adsmanager.jobs.runner import run_job
from adsmanager.services import payout_runs
from adsmanager.vocabulary import PayoutRunStatus
from tests.fund_data import (
    FINANCE,
    TODAY,
    YESTERDAY,
    add_creator,
    set_rules,
    trailing_views,
    views,
)


def fixtures_clock() -> datetime:
    """The clock, stopped at the end of the day ``tests.fund_data`` read once, at import: a
    run that crosses midnight UTC would otherwise compute a yesterday the fixtures do not
    know (CI failed so at 00:00)."""
    now = utcnow()
    return now if now.date() == TODAY else datetime.combine(TODAY, time.max, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _jobs_read_the_fixtures_clock(monkeypatch) -> None:
    monkeypatch.setattr("adsmanager.jobs.creator_fund.utcnow", fixtures_clock)


def test_the_daily_computation_runs_at_the_configured_time(app):
    settings = app.extensions["adsmanager.settings"]
    assert by_name("compute_payout_run", schedule_for(settings)).trigger_args == {
        "hour": 1,
        "minute": 30,
    }
    later = replace(settings, payout_compute_at="06:05")
    job = by_name("compute_payout_run", schedule_for(later))
    assert (job.trigger, job.trigger_args) == ("cron", {"hour": 6, "minute": 5})
    for bad in ("6", "25:00", "06:60", "six"):
        with pytest.raises(ValueError):
            schedule_for(replace(settings, payout_compute_at=bad))


def _eligible(db, creator_id: str) -> None:
    add_creator(db, creator_id)
    trailing_views(db, creator_id, YESTERDAY, 5_000)
    views(db, creator_id, YESTERDAY, 1_000)


def test_the_daily_job_computes_yesterdays_draft_and_never_an_approved_one(db, app):
    settings = app.extensions["adsmanager.settings"]
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=50_000_000)
    _eligible(db, "alice")

    first = run_job("compute_payout_run", db, settings)

    assert first.outcome == "succeeded", first.error
    assert f"for {YESTERDAY.isoformat()}: DRAFT" in first.summary
    page = payout_runs.runs(db, 10, None)
    [run] = page.items
    assert (run.period_start, run.status) == (YESTERDAY, PayoutRunStatus.DRAFT)
    payout_runs.approve(db, run.id, FINANCE, utcnow())
    again = run_job("compute_payout_run", db, settings)
    assert again.outcome == "succeeded"
    assert again.summary.startswith(f"skipped {YESTERDAY.isoformat()}")
    assert len(payout_runs.runs(db, 10, None).items) == 1


def test_a_late_daily_computation_catches_up_on_the_days_it_missed(db, app):
    """The job last succeeded three days ago (drafting the day before): the next run drafts
    the two days it missed as well as yesterday, and nothing before."""
    from adsmanager.db.jobs import JobRun

    settings = app.extensions["adsmanager.settings"]
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=50_000_000)
    _eligible(db, "alice")
    three_days_ago = fixtures_clock() - timedelta(days=3)
    with db.transaction() as session:
        session.add(
            JobRun(
                job="compute_payout_run",
                trigger="schedule",
                started_at=three_days_ago,
                finished_at=three_days_ago,
                outcome="succeeded",
                summary="(the day before)",
            )
        )
    done = run_job("compute_payout_run", db, settings)
    assert done.outcome == "succeeded", done.error
    days = sorted(run.period_start for run in payout_runs.runs(db, 10, None).items)
    assert days == [YESTERDAY - timedelta(days=n) for n in (2, 1, 0)]
    assert done.summary.count("DRAFT") == 3
    # Run again the same day: only yesterday's draft, computed again.
    again = run_job("compute_payout_run", db, settings)
    assert again.summary.count("DRAFT") == 1 and YESTERDAY.isoformat() in again.summary


def test_approved_runs_are_paid_automatically_only_when_that_is_turned_on(db, app):
    settings = app.extensions["adsmanager.settings"]
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=50_000_000)
    _eligible(db, "alice")
    run = run_job("compute_payout_run", db, settings)
    [draft] = payout_runs.runs(db, 10, None).items
    payout_runs.approve(db, draft.id, FINANCE, utcnow())

    off = run_job("pay_payout_runs", db, settings)
    assert off.summary.startswith("skipped: automatic paying is off")
    assert payout_runs.get(db, draft.id).status is PayoutRunStatus.APPROVED

    on = run_job("pay_payout_runs", db, replace(settings, payout_auto_pay=True))
    assert on.outcome == "succeeded", on.error
    # alice has no connected account: the run is tried, and waits for her.
    assert f"{draft.id}: PARTIALLY_PAID (0 paid, 1 failed)" in on.summary
    assert run.outcome == "succeeded"

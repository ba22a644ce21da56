"""The creator fund's jobs: yesterday's payout run as a draft, and paying approved runs
when the platform chose to pay without a person asking."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from adsmanager.config import Settings
from adsmanager.db.base import utcnow
from adsmanager.db.creator_fund import PayoutRun
from adsmanager.db.database import Database
from adsmanager.db.jobs import JobRun
from adsmanager.services import payout_runs, payouts
from adsmanager.services.errors import Conflict, ServiceError
from adsmanager.services.funding import make_gateway
from adsmanager.vocabulary import PayoutRunStatus, PeriodKind

# How many missed days a late computation catches up on (the scheduler was down at the
# daily time, or another job held it up).
CATCH_UP_DAYS = 7


def compute_yesterday(db: Database, settings: Settings) -> str:
    """Yesterday's draft, and before it the drafts of the days this job missed since it last
    succeeded (at most a week back): days it never ran for, not days finance chose to leave
    without a daily draft."""
    now = utcnow()
    yesterday = (now - timedelta(days=1)).date()
    with db.read() as session:
        last = session.scalar(
            select(func.max(JobRun.started_at)).where(
                JobRun.job == "compute_payout_run", JobRun.outcome == "succeeded"
            )
        )
    first = yesterday
    if last is not None:
        # That run covered the day before it started; the next day is the first missed.
        first = min(yesterday, max(last.date(), yesterday - timedelta(days=CATCH_UP_DAYS - 1)))
    days = (first + timedelta(days=number) for number in range((yesterday - first).days + 1))
    return "; ".join(_compute_day(db, day, now) for day in days)


def _compute_day(db: Database, day: date, now: datetime) -> str:
    period = payout_runs.Period(PeriodKind.DAY, day, day)
    try:
        run = payout_runs.compute(db, period, None, now)
    except Conflict as error:
        return f"skipped {period.label}: {error.message}"
    totals = run.totals
    return (
        f"run {run.id} for {period.label}: DRAFT, pool {run.pool_micros} micros "
        f"{run.currency}, {totals['payable_creators']} creators payable "
        f"({totals['payable_micros']} micros), {totals['excluded']} excluded"
    )


def pay_approved(db: Database, settings: Settings) -> str:
    if not settings.payout_auto_pay:
        return "skipped: automatic paying is off (ADSMANAGER_PAYOUT_AUTO_PAY)"
    gateway = make_gateway(settings)
    if gateway is None:
        return "skipped: Stripe is not configured"
    with db.read() as session:
        run_ids = list(
            session.scalars(
                select(PayoutRun.id)
                .where(
                    PayoutRun.status.in_([PayoutRunStatus.APPROVED, PayoutRunStatus.PARTIALLY_PAID])
                )
                .order_by(PayoutRun.period_start)
            )
        )
    said = []
    for run_id in run_ids:
        try:
            result = payouts.pay(db, gateway, run_id, None, utcnow)
        except ServiceError as error:  # Stripe away, say: the next runs are tried anyway
            said.append(f"{run_id}: not paid ({error.message})")
            continue
        said.append(f"{run_id}: {result.run.status} ({result.paid} paid, {result.failed} failed)")
    return "; ".join(said) or "no approved runs to pay"

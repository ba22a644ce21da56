"""Payout runs of the creator fund: computed as a DRAFT for a day or a month, reviewed and
approved by finance, then paid (see ``payouts``).

A run is computed the same way every time from what is stored: the rules version in force,
each creator's engagement, balances carried over from earlier runs and clawbacks for
earlier runs whose engagement was later found invalid (a correction anywhere in an earlier
run's trailing window is looked at: it can lower the creator's weight for that run's period,
or leave too few trailing qualified views for the creator to have been eligible at all, and
then the whole share comes back). Computing a period again replaces its draft; once
approved, a period is never computed again, and periods of runs never overlap, so no one is
paid twice for the same day.

Approval writes the shares to the ledger (source → creator fund pool → each creator's
payable account). Computing and approving take a lock on the rules in force, so they run
one at a time; a draft computed before another run was approved is stale and must be
computed again, because its carried-over balances and clawbacks may have been taken by that
run (judged by the number of approved runs, not by clocks). A draft computed in another
currency than the rules now in force is refused too: the balances it carries over would be
in a currency no later run takes over.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from adsmanager.db.base import new_id
from adsmanager.db.creator_fund import (
    Clawback,
    Creator,
    PayoutLine,
    PayoutRun,
    VideoEngagement,
)
from adsmanager.db.database import Database
from adsmanager.db.ledger import JournalEntry, LedgerAccount, Posting
from adsmanager.services import fund_rules, ledger
from adsmanager.services.access import Actor
from adsmanager.services.errors import Conflict, InvalidInput, NotFound
from adsmanager.services.ledger import LOOKUP_CHUNK
from adsmanager.services.pagination import Page, paginate
from adsmanager.vocabulary import PayoutLineStatus, PayoutRunStatus, PeriodKind
from billing import ledger as rules_of_posting
from billing.fund_allocation import allocate, clawback, exact_share, settle
from billing.fund_rules import (
    CreatorFacts,
    PoolMode,
    Rules,
    Standing,
    exclusions,
    pool_micros,
    weight,
)
from billing.ledger import AccountKind, EntryKind
from billing.money import Money, stripe_step_micros

# \Z, not $: "$" also matches before a final newline.
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
_MONTH = re.compile(r"^\d{4}-\d{2}\Z")
LINE_INSERT_CHUNK = 10_000
# Engagement batches carry the time they started, not when they committed: a run looks for
# corrections this long before it was computed (rows that did not change weigh nothing).
CORRECTION_MARGIN = timedelta(hours=1)
# The earliest day of a period: its trailing window (at most 366 days up to the period's
# end, see ``Rules.trailing_days``) then never reaches before the first day a date holds.
EARLIEST_PERIOD = date(2, 1, 1)


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        return (
            self.start.isoformat() if self.kind is PeriodKind.DAY else self.start.strftime("%Y-%m")
        )


def parse_period(text: str) -> Period:
    """``2026-11-27`` is a day; ``2026-11`` is a month; from :data:`EARLIEST_PERIOD` on."""
    period = None
    with suppress(ValueError):  # 2026-02-30, month 13: not a period
        if _DAY.match(text):
            day = date.fromisoformat(text)
            period = Period(PeriodKind.DAY, day, day)
        elif _MONTH.match(text):
            year, month = map(int, text.split("-"))
            last = calendar.monthrange(year, month)[1]
            period = Period(PeriodKind.MONTH, date(year, month, 1), date(year, month, last))
    if period is None:
        raise InvalidInput({"period": ["Give a day (YYYY-MM-DD) or a month (YYYY-MM)."]})
    _refuse_too_early(period)
    return period


def _refuse_too_early(period: Period) -> None:
    if period.start < EARLIEST_PERIOD:
        raise InvalidInput(
            {"period": [f"Periods start on {EARLIEST_PERIOD.isoformat()} or later."]}
        )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def transfer_group_of(run: PayoutRun) -> str:
    """Stripe's transfer group of a run's transfers."""
    return f"payout-run:{run.id}"


def fund_source(rules: Rules) -> AccountKind:
    if rules.pool_mode is PoolMode.REVENUE_SHARE:
        return AccountKind.PLATFORM_REVENUE
    return AccountKind.CREATOR_FUND_EXPENSE


# --- what a run is computed from ------------------------------------------------------------


def ad_revenue(session: Session, currency: str, period: Period) -> int:
    """Ad spend posted to platform revenue in the period (UTC days), in micros."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Posting.amount_micros), 0))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
            .where(
                JournalEntry.kind == EntryKind.SPEND.value,
                LedgerAccount.kind == AccountKind.PLATFORM_REVENUE.value,
                LedgerAccount.currency == currency,
                JournalEntry.effective_at >= _midnight(period.start),
                JournalEntry.effective_at < _midnight(period.end + timedelta(days=1)),
            )
        )
    )


@dataclass(frozen=True)
class Engagement:
    qualified_views: int = 0
    interactions: int = 0
    trailing_qualified_views: int = 0


def _counted_interactions():
    """Likes, comments and shares of a video-day, none of a day flagged invalid traffic
    (its views count nothing either, see ``counted_views``)."""
    e = VideoEngagement
    return case((e.invalid_traffic, 0), else_=e.likes + e.comments + e.shares)


def engagement(
    session: Session,
    start: date,
    end: date,
    trailing_start: date,
    creator_ids: list[str] | None = None,
) -> dict[str, Engagement]:
    """Counted views and interactions per creator from ``start`` to ``end``, and counted
    views from ``trailing_start`` to ``end``; only days on or after the creator joined."""
    e = VideoEngagement
    in_period = e.day >= start
    in_trailing = e.day >= trailing_start
    statement = (
        select(
            e.creator_id,
            func.sum(case((in_period, e.counted_views), else_=0)),
            func.sum(case((in_period, _counted_interactions()), else_=0)),
            func.sum(case((in_trailing, e.counted_views), else_=0)),
        )
        .join(Creator, Creator.id == e.creator_id)
        .where(
            e.day >= min(start, trailing_start),
            e.day <= end,
            Creator.joined_on.is_not(None),
            e.day >= Creator.joined_on,
        )
        .group_by(e.creator_id)
    )
    chunks = (
        [None]
        if creator_ids is None
        else [creator_ids[i : i + LOOKUP_CHUNK] for i in range(0, len(creator_ids), LOOKUP_CHUNK)]
    )
    found = {}
    for chunk in chunks:
        query = statement if chunk is None else statement.where(e.creator_id.in_(chunk))
        for creator_id, views, interactions, trailing in session.execute(query):
            found[creator_id] = Engagement(int(views), int(interactions), int(trailing))
    return found


def _carried_in(session: Session, currency: str) -> dict[str, tuple[int, list[str]]]:
    """Balances that approved runs carried over and no later run has taken yet."""
    rows = session.execute(
        select(PayoutLine.creator_id, PayoutLine.carried_out_micros, PayoutLine.run_id)
        .join(PayoutRun, PayoutRun.id == PayoutLine.run_id)
        .where(
            PayoutRun.status != PayoutRunStatus.DRAFT,
            PayoutRun.currency == currency,
            PayoutLine.carried_out_micros != 0,
            PayoutLine.carried_to_run_id.is_(None),
        )
    )
    carried: dict[str, tuple[int, list[str]]] = {}
    for creator_id, micros, run_id in rows:
        total, runs = carried.get(creator_id, (0, []))
        carried[creator_id] = (total + micros, [*runs, run_id])
    return carried


def _counted_since_joining(
    session: Session, run: PayoutRun, lines: dict[str, PayoutLine]
) -> dict[str, Engagement]:
    """Counted views and interactions of a run's period, and counted views of its trailing
    window, as stored now, from the day each creator had joined when the run was computed
    (the line's ``joined_on``): counted as :func:`engagement` counted them for the run."""
    e = VideoEngagement
    in_period = e.day >= run.period_start
    # A month can be longer than the trailing window: count from whichever starts first.
    first_day = min(run.period_start, run.trailing_start)
    statement = (
        select(
            e.creator_id,
            func.sum(case((in_period, e.counted_views), else_=0)),
            func.sum(case((in_period, _counted_interactions()), else_=0)),
            func.sum(case((e.day >= run.trailing_start, e.counted_views), else_=0)),
        )
        .join(
            PayoutLine,
            and_(PayoutLine.run_id == run.id, PayoutLine.creator_id == e.creator_id),
        )
        .where(
            e.day >= first_day,
            e.day <= run.period_end,
            PayoutLine.joined_on.is_not(None),
            e.day >= PayoutLine.joined_on,
        )
        .group_by(e.creator_id)
    )
    counted: dict[str, Engagement] = {}
    ids = sorted(lines)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        for creator_id, views, interactions, trailing in session.execute(
            statement.where(e.creator_id.in_(chunk))
        ):
            counted[creator_id] = Engagement(int(views), int(interactions), int(trailing))
    return counted


def _clawbacks(session: Session, run_id: str, currency: str) -> dict[str, list[dict]]:
    """For each creator, what to take back for earlier runs whose engagement changed after
    they were computed and now earns less than the run paid.

    A change anywhere in an earlier run's trailing window (``trailing_start`` to its
    period's end) is looked at. The creator's weight for that run is judged again from the
    engagement stored now, under that run's rules: nothing when the trailing qualified views
    now fall below its ``min_trailing_qualified_views`` (the creator was not eligible after
    all), else the weight of the period's counts. Eligibility facts that are not engagement
    (age, followers, country, standing) stay as they were when that run was computed."""
    e = VideoEngagement
    changed = session.execute(
        select(PayoutRun.id, e.creator_id)
        .distinct()
        .select_from(PayoutRun)
        .join(
            e,
            and_(
                # The period and its trailing window (a month can be the longer one).
                or_(e.day >= PayoutRun.period_start, e.day >= PayoutRun.trailing_start),
                e.day <= PayoutRun.period_end,
                e.updated_at > PayoutRun.corrections_after,
            ),
        )
        .where(
            PayoutRun.status != PayoutRunStatus.DRAFT,
            PayoutRun.id != run_id,
            PayoutRun.currency == currency,
        )
    ).all()
    by_run: dict[str, list[str]] = defaultdict(list)
    for source_id, creator_id in changed:
        by_run[source_id].append(creator_id)
    found: dict[str, list[dict]] = defaultdict(list)
    for source_id, creator_ids in sorted(by_run.items()):
        source = session.get(PayoutRun, source_id)
        source_rules = fund_rules.get_in(session, source.rules_version)
        paid = {
            line.creator_id: line
            for line in session.scalars(
                select(PayoutLine).where(
                    PayoutLine.run_id == source_id,
                    PayoutLine.creator_id.in_(creator_ids),
                    PayoutLine.share_micros > 0,
                )
            )
        }
        if not paid:
            continue
        already = dict(
            session.execute(
                select(Clawback.creator_id, func.sum(Clawback.amount_micros))
                .where(Clawback.source_run_id == source_id, Clawback.creator_id.in_(paid))
                .group_by(Clawback.creator_id)
            ).all()
        )
        now_counted = _counted_since_joining(session, source, paid)
        rate = Fraction(source.rate)
        step = stripe_step_micros(source.currency)
        everyone_capped = bool(source.cap_micros and source.totals["undistributed_micros"])
        for creator_id, line in sorted(paid.items()):
            counted = now_counted.get(creator_id, Engagement())
            if counted.trailing_qualified_views < source_rules.min_trailing_qualified_views:
                weight_now = 0  # not eligible after all: the whole share comes back
            else:
                weight_now = weight(counted.qualified_views, counted.interactions, source_rules)
            if weight_now >= line.weight:
                continue
            micros = clawback(
                line.share_micros,
                weight_now,
                rate,
                source.cap_micros,
                step,
                int(already.get(creator_id, 0)),
                everyone_capped=everyone_capped,
            )
            if micros:
                found[creator_id].append(
                    {
                        "run_id": source_id,
                        "weight_paid": line.weight,
                        "weight_now": weight_now,
                        "micros": micros,
                    }
                )
    return found


# --- computing --------------------------------------------------------------------------------


def _facts(creator: Creator, counted: Engagement) -> CreatorFacts:
    return CreatorFacts(
        creator_id=creator.id,
        country=creator.country,
        verified_age=creator.verified_age,
        followers=creator.followers,
        standing=Standing(creator.standing),
        joined_on=creator.joined_on,
        qualified_views=counted.qualified_views,
        interactions=counted.interactions,
        trailing_qualified_views=counted.trailing_qualified_views,
    )


def trailing_start_of(rules: Rules, period: Period) -> date:
    """The first day of the trailing window that ends with the period's last day."""
    return period.end - timedelta(days=rules.trailing_days - 1)


def _lines(session: Session, run_id: str, rules: Rules, period: Period, pool: int):
    """One line per creator, and the allocation they share."""
    step = stripe_step_micros(rules.currency)
    trailing_start = trailing_start_of(rules, period)
    counted = engagement(session, period.start, period.end, trailing_start)
    creators = session.execute(
        select(
            Creator.id,
            Creator.country,
            Creator.verified_age,
            Creator.followers,
            Creator.standing,
            Creator.joined_on,
            Creator.stripe_account_id,
        ).order_by(Creator.id)
    ).all()
    facts = {c.id: _facts(c, counted.get(c.id, Engagement())) for c in creators}
    reasons = {c: exclusions(f, rules, period.end) for c, f in facts.items()}
    weights = {
        c: weight(f.qualified_views, f.interactions, rules)
        for c, f in facts.items()
        if not reasons[c]
    }
    allocation = allocate(pool, weights, step, rules.cap_micros)
    carried = _carried_in(session, rules.currency)
    clawed = _clawbacks(session, run_id, rules.currency)
    lines = []
    for creator in creators:
        share = allocation.shares.get(creator.id)
        carried_in, carried_from = carried.get(creator.id, (0, []))
        clawbacks = clawed.get(creator.id, [])
        settlement = settle(
            share.micros if share else 0,
            carried_in,
            sum(c["micros"] for c in clawbacks),
            rules.minimum_payout_micros,
        )
        eligible = not reasons[creator.id]
        if not eligible:
            status, payable = PayoutLineStatus.EXCLUDED, 0
        elif settlement.payable_micros:
            status, payable = PayoutLineStatus.PAYABLE, settlement.payable_micros
        else:
            status, payable = PayoutLineStatus.CARRIED, 0
        fact = facts[creator.id]
        details = {}
        if carried_from:
            details["carried_from"] = carried_from
        if clawbacks:
            details["clawbacks"] = clawbacks
        lines.append(
            {
                "run_id": run_id,
                "creator_id": creator.id,
                "status": status,
                "exclusions": [reason.value for reason in reasons[creator.id]],
                "qualified_views": fact.qualified_views,
                "interactions": fact.interactions,
                "trailing_qualified_views": fact.trailing_qualified_views,
                "joined_on": creator.joined_on,
                "weight": share.weight if share else 0,
                "exact_share": str(share.exact) if share else "0",
                "capped": bool(share and share.capped),
                "share_micros": share.micros if share else 0,
                "carried_in_micros": carried_in,
                "clawback_micros": sum(c["micros"] for c in clawbacks),
                "payable_micros": payable,
                "carried_out_micros": settlement.balance_micros - payable,
                "details": details or None,
                "stripe_account_id": creator.stripe_account_id,
            }
        )
    return lines, allocation


def _totals(lines: list[dict], undistributed: int) -> dict:
    by_status = Counter(line["status"] for line in lines)
    return {
        "creators": len(lines),
        "eligible": len(lines) - by_status[PayoutLineStatus.EXCLUDED],
        "excluded": by_status[PayoutLineStatus.EXCLUDED],
        "exclusions": dict(
            sorted(Counter(reason for line in lines for reason in line["exclusions"]).items())
        ),
        "capped": sum(1 for line in lines if line["capped"]),
        "shares_micros": sum(line["share_micros"] for line in lines),
        "undistributed_micros": undistributed,
        "carried_in_micros": sum(line["carried_in_micros"] for line in lines),
        "clawback_micros": sum(line["clawback_micros"] for line in lines),
        "payable_creators": by_status[PayoutLineStatus.PAYABLE],
        "payable_micros": sum(line["payable_micros"] for line in lines),
        "carried_creators": sum(1 for line in lines if line["carried_out_micros"]),
        "carried_out_micros": sum(line["carried_out_micros"] for line in lines),
    }


def _approvals(session: Session) -> int:
    """How many runs were ever approved: it only grows (approved runs are never undone)."""
    return session.scalar(
        select(func.count()).select_from(PayoutRun).where(PayoutRun.status != PayoutRunStatus.DRAFT)
    )


def _refuse_overlap(session: Session, period: Period) -> None:
    other = session.scalar(
        select(PayoutRun).where(
            PayoutRun.period_start <= period.end,
            PayoutRun.period_end >= period.start,
            ~and_(PayoutRun.period_kind == period.kind, PayoutRun.period_start == period.start),
        )
    )
    if other is not None:
        raise Conflict(
            "overlapping_run",
            f"Run {other.id} already covers {other.period_start}..{other.period_end}; "
            "periods of runs may not overlap (delete its draft first if it is one).",
        )


def compute(db: Database, period: Period, actor: Actor | None, now: datetime) -> PayoutRun:
    """The DRAFT run for ``period``: a new one, or the period's draft computed again."""
    if period.end >= now.astimezone(UTC).date():
        raise InvalidInput({"period": [f"{period.label} is not over yet (UTC)."]})
    _refuse_too_early(period)
    with db.transaction() as session:
        fund_rules.lock_programme(session, now)
        version = fund_rules.latest(session, now)
        rules = version.rules
        run = session.scalar(
            select(PayoutRun).where(
                PayoutRun.period_kind == period.kind, PayoutRun.period_start == period.start
            )
        )
        if run is not None and run.status is not PayoutRunStatus.DRAFT:
            raise Conflict(
                "run_already_approved",
                f"Run {run.id} for {period.label} is {run.status}; it is never computed again.",
            )
        _refuse_overlap(session, period)
        revenue = ad_revenue(session, rules.currency, period)
        approvals = _approvals(session)
        pool = pool_micros(rules, period.days, revenue)
        if run is not None:
            session.execute(delete(PayoutLine).where(PayoutLine.run_id == run.id))
        run_id = run.id if run is not None else new_id("run")
        lines, allocation = _lines(session, run_id, rules, period, pool)
        if run is None:
            run = PayoutRun(
                id=run_id,
                period_kind=period.kind,
                period_start=period.start,
                period_end=period.end,
            )
            session.add(run)
        run.status = PayoutRunStatus.DRAFT
        run.rules_version = version.version
        run.trailing_start = trailing_start_of(rules, period)
        run.currency = rules.currency
        run.revenue_micros = revenue
        run.pool_micros = pool
        run.distributed_micros = allocation.distributed_micros
        run.rate = str(allocation.rate)
        run.cap_micros = rules.cap_micros
        run.totals = _totals(lines, allocation.undistributed_micros)
        run.computed_at = now
        run.approvals_seen = approvals
        run.corrections_after = now - CORRECTION_MARGIN
        run.computed_by = actor.id if actor else None
        session.flush()
        for start in range(0, len(lines), LINE_INSERT_CHUNK):
            session.execute(PayoutLine.__table__.insert(), lines[start : start + LINE_INSERT_CHUNK])
        return run


# --- reviewing ------------------------------------------------------------------------------


def get(db: Database, run_id: str) -> PayoutRun:
    with db.read() as session:
        return load(session, run_id)


def load(session: Session, run_id: str, lock: bool = False) -> PayoutRun:
    statement = select(PayoutRun).where(PayoutRun.id == run_id)
    run = session.scalar(statement.with_for_update() if lock else statement)
    if run is None:
        raise NotFound("Payout run")
    return run


def runs(db: Database, page_size: int, page_token: str | None) -> Page:
    with db.read() as session:
        return paginate(session, select(PayoutRun), PayoutRun.id, page_size, page_token)


def lines(
    db: Database,
    run_id: str,
    page_size: int,
    page_token: str | None,
    status: PayoutLineStatus | None = None,
) -> Page:
    with db.read() as session:
        load(session, run_id)
        statement = select(PayoutLine).where(PayoutLine.run_id == run_id)
        if status is not None:
            statement = statement.where(PayoutLine.status == status)
        return paginate(session, statement, PayoutLine.id, page_size, page_token)


def line(db: Database, run_id: str, creator_id: str) -> tuple[PayoutRun, PayoutLine]:
    with db.read() as session:
        run = load(session, run_id)
        found = session.scalar(
            select(PayoutLine).where(
                PayoutLine.run_id == run_id, PayoutLine.creator_id == creator_id
            )
        )
        if found is None:
            raise NotFound("Payout line")
        return run, found


def all_lines(db: Database, run_id: str) -> Iterable[PayoutLine]:
    """Every line of a run in creator order, read in chunks (for exports)."""
    with db.read() as session:
        load(session, run_id)
        last = ""
        while True:
            chunk = list(
                session.scalars(
                    select(PayoutLine)
                    .where(PayoutLine.run_id == run_id, PayoutLine.creator_id > last)
                    .order_by(PayoutLine.creator_id)
                    .limit(LINE_INSERT_CHUNK)
                )
            )
            if not chunk:
                return
            yield from chunk
            last = chunk[-1].creator_id
            session.expunge_all()


def delete_draft(db: Database, run_id: str, now: datetime) -> None:
    with db.transaction() as session:
        fund_rules.lock_programme(session, now)
        run = load(session, run_id, lock=True)
        if run.status is not PayoutRunStatus.DRAFT:
            raise Conflict("run_not_draft", f"Run {run.id} is {run.status}; only drafts go.")
        session.execute(delete(PayoutLine).where(PayoutLine.run_id == run.id))
        session.delete(run)


def exact_share_of(run: PayoutRun, line: PayoutLine) -> Fraction:
    """The line's exact share, recomputed from the run's rate (equal to what was stored)."""
    if not line.weight:
        return Fraction(0)
    return exact_share(line.weight, Fraction(run.rate), run.cap_micros)


# --- approving ------------------------------------------------------------------------------


def approve(db: Database, run_id: str, actor: Actor, now: datetime) -> PayoutRun:
    """Finance's approval: the shares and clawbacks go into the ledger, carried balances are
    taken over, and the run can be paid."""
    with db.transaction() as session:
        fund_rules.lock_programme(session, now)
        run = load(session, run_id, lock=True)
        if run.status is not PayoutRunStatus.DRAFT:
            raise Conflict("run_not_draft", f"Run {run.id} is already {run.status}.")
        if _approvals(session) != run.approvals_seen:
            raise Conflict(
                "stale_run",
                f"Another run was approved after run {run.id} was computed; compute "
                f"{run.period_start.isoformat()} again before approving it.",
            )
        in_force = fund_rules.latest(session, now).rules.currency
        if run.currency != in_force:
            # Its balances would be carried in a currency no later run takes them over in.
            raise Conflict(
                "currency_changed",
                f"Run {run.id} was computed in {run.currency} and the fund's currency is now "
                f"{in_force}; compute {run.period_start.isoformat()} again before approving it.",
            )
        version = fund_rules.get_in(session, run.rules_version)
        source = fund_source(version)
        shares, clawed = {}, {}
        clawback_rows = []
        for creator_id, share, clawback_micros, details in session.execute(
            select(
                PayoutLine.creator_id,
                PayoutLine.share_micros,
                PayoutLine.clawback_micros,
                PayoutLine.details,
            ).where(
                PayoutLine.run_id == run.id,
                (PayoutLine.share_micros > 0) | (PayoutLine.clawback_micros > 0),
            )
        ):
            shares[creator_id] = share
            clawed[creator_id] = clawback_micros
            for taken in (details or {}).get("clawbacks", []):
                clawback_rows.append(
                    {
                        "source_run_id": taken["run_id"],
                        "applied_run_id": run.id,
                        "creator_id": creator_id,
                        "weight_paid": taken["weight_paid"],
                        "weight_now": taken["weight_now"],
                        "amount_micros": taken["micros"],
                        "created_at": now,
                    }
                )
        entries = []
        if run.distributed_micros:
            entries.append(
                rules_of_posting.fund_pool(
                    run.id, Money(run.currency, run.distributed_micros), source
                )
            )
            entries.append(rules_of_posting.fund_shares(run.id, run.currency, shares))
        if any(clawed.values()):
            entries.append(rules_of_posting.fund_clawbacks(run.id, run.currency, clawed, source))
        ledger.post(session, entries, _midnight(run.period_end + timedelta(days=1)), actor.id, now)
        if clawback_rows:
            session.execute(Clawback.__table__.insert(), clawback_rows)
        session.execute(
            update(PayoutLine)
            .where(
                PayoutLine.carried_to_run_id.is_(None),
                PayoutLine.carried_out_micros != 0,
                PayoutLine.run_id.in_(
                    select(PayoutRun.id).where(
                        PayoutRun.status != PayoutRunStatus.DRAFT,
                        PayoutRun.currency == run.currency,
                        PayoutRun.id != run.id,
                    )
                ),
            )
            .values(carried_to_run_id=run.id)
            .execution_options(synchronize_session=False)
        )
        run.status = PayoutRunStatus.APPROVED
        run.approved_at = now
        run.approved_by = actor.id
        return run

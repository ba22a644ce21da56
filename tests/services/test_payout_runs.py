"""Payout runs on the database: computing, recomputing, approving, carry-over, clawbacks."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from adsmanager.db.base import utcnow
from adsmanager.db.creator_fund import (
    Clawback,
    Creator,
    PayoutLine,
    PayoutRun,
    VideoEngagement,
)
from adsmanager.services import fund_rules, ledger, payout_runs
from adsmanager.services.errors import Conflict, InvalidInput
from adsmanager.services.fund_reports import csv_rows, explain
from adsmanager.vocabulary import PayoutLineStatus, PayoutRunStatus, PeriodKind
from billing.fund_rules import Rules
from billing.ledger import AccountKind, creator_payable, platform
from tests.conftest import TEST_DATABASE_URL
from tests.fund_data import (
    ADMIN,
    FINANCE,
    TODAY,
    YESTERDAY,
    add_creator,
    set_rules,
    trailing_views,
    views,
)
from tests.ledger_data import charge

needs_postgres = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="needs PostgreSQL: set ADSMANAGER_TEST_DATABASE_URL",
)

DAY1 = YESTERDAY - timedelta(days=2)
DAY2 = YESTERDAY - timedelta(days=1)
DAY3 = YESTERDAY
HUNDRED_DOLLARS = 100_000_000


def day(d):
    return payout_runs.Period(PeriodKind.DAY, d, d)


def compute(db, d):
    return payout_runs.compute(db, day(d), FINANCE, utcnow())


def lines_of(db, run_id) -> dict[str, PayoutLine]:
    with db.read() as session:
        rows = session.scalars(select(PayoutLine).where(PayoutLine.run_id == run_id))
        return {line.creator_id: line for line in rows}


def eligible_creator(db, creator_id, on, qualified, **overrides):
    add_creator(db, creator_id, **overrides)
    trailing_views(db, creator_id, on, 5_000)
    if qualified:
        views(db, creator_id, on, qualified)


@pytest.fixture
def fixed_pool(db):
    return set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=HUNDRED_DOLLARS)


def test_a_run_splits_the_pool_pro_rata_and_explains_every_exclusion(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 3_000)
    eligible_creator(db, "bob", DAY1, 1_000)
    eligible_creator(db, "carol", DAY1, 2_000)
    eligible_creator(db, "teen", DAY1, 9_000, verified_age=16)
    eligible_creator(db, "tiny", DAY1, 9_000, followers=500, country="ZZ")
    add_creator(db, "newbie", joined_on=None)

    run = compute(db, DAY1)

    assert run.status is PayoutRunStatus.DRAFT
    assert run.rules_version == fixed_pool
    assert run.pool_micros == run.distributed_micros == HUNDRED_DOLLARS
    lines = lines_of(db, run.id)
    assert set(lines) == {"alice", "bob", "carol", "teen", "tiny", "newbie"}
    # 100 USD split 3:1:2 → 50, 16.67, 33.33 (the odd cent to the largest remainder).
    assert {c: lines[c].share_micros for c in ("alice", "bob", "carol")} == {
        "alice": 50_000_000,
        "bob": 16_670_000,
        "carol": 33_330_000,
    }
    assert sum(line.share_micros for line in lines.values()) == HUNDRED_DOLLARS
    assert lines["teen"].exclusions == ["under_minimum_age"]
    assert lines["tiny"].exclusions == ["too_few_followers", "country_not_in_programme"]
    assert "not_joined" in lines["newbie"].exclusions
    assert lines["teen"].status is PayoutLineStatus.EXCLUDED and lines["teen"].share_micros == 0
    assert lines["alice"].status is PayoutLineStatus.PAYABLE
    assert lines["alice"].payable_micros == 50_000_000
    assert run.totals["eligible"] == 3
    assert run.totals["exclusions"]["under_minimum_age"] == 1
    assert run.totals["payable_micros"] == HUNDRED_DOLLARS


def test_the_pool_can_be_a_share_of_the_periods_ad_revenue(db, acme):
    from adsmanager.services import spend_posting

    advertiser, _ = acme
    set_rules(db, pool_mode="REVENUE_SHARE", revenue_share_ppm=200_000)
    at = utcnow().replace(year=DAY1.year, month=DAY1.month, day=DAY1.day, hour=12)
    charge(db, advertiser["id"], 12_345_678, at=at)
    charge(db, advertiser["id"], 1_000_000, at=at + timedelta(days=1))  # another day
    spend_posting.post_spend(db)
    eligible_creator(db, "alice", DAY1, 1_000)

    run = compute(db, DAY1)

    assert run.revenue_micros == 12_345_678
    # 20% is 2,469,135.6 micros, rounded down to a whole cent.
    assert run.pool_micros == 2_460_000
    assert lines_of(db, run.id)["alice"].share_micros == 2_460_000


def test_only_views_after_joining_count(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 1_000)
    add_creator(db, "late", joined_on=DAY1)
    trailing_views(db, "late", DAY1, 50_000)  # before joining: ignored
    views(db, "late", DAY1, 1_000)

    lines = lines_of(db, compute(db, DAY1).id)

    assert lines["late"].trailing_qualified_views == 1_000
    assert lines["late"].exclusions == ["too_few_trailing_qualified_views"]
    assert lines["alice"].share_micros == HUNDRED_DOLLARS


def test_invalid_traffic_does_not_count(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 0)
    views(db, "alice", DAY1, 1_000, invalid=400)
    views(db, "alice", DAY1, 5_000, invalid_traffic=True)

    assert lines_of(db, compute(db, DAY1).id)["alice"].qualified_views == 600


def _with_an_engagement_bonus(db) -> None:
    """A view per like, comment or share, up to doubling the views."""
    set_rules(
        db,
        pool_mode="FIXED",
        fixed_pool_micros_per_day=HUNDRED_DOLLARS,
        views_per_interaction=1,
        max_bonus_percent=100,
    )


def test_a_day_flagged_invalid_traffic_earns_no_engagement_bonus(db):
    _with_an_engagement_bonus(db)
    eligible_creator(db, "alice", DAY1, 10_000)
    eligible_creator(db, "bob", DAY1, 10_000)
    # A bot-farmed day of alice's: its likes are no more real than its views.
    views(db, "alice", DAY1, 50_000, invalid_traffic=True, likes=50_000)

    lines = lines_of(db, compute(db, DAY1).id)

    assert lines["alice"].interactions == 0
    assert lines["alice"].weight == lines["bob"].weight == 10_000
    assert lines["alice"].share_micros == lines["bob"].share_micros == HUNDRED_DOLLARS // 2


def test_a_day_flagged_later_takes_its_engagement_bonus_back_too(db):
    _with_an_engagement_bonus(db)
    eligible_creator(db, "alice", DAY1, 10_000)
    video = views(db, "alice", DAY1, 10_000, likes=10_000)
    eligible_creator(db, "bob", DAY1, 30_000)
    first = compute(db, DAY1)
    payout_runs.approve(db, first.id, FINANCE, utcnow())
    assert lines_of(db, first.id)["alice"].weight == 30_000  # 20,000 views + 10,000 bonus

    views(db, "alice", DAY1, 10_000, video_id=video, likes=10_000, invalid_traffic=True)
    alice = lines_of(db, compute(db, DAY2).id)["alice"]

    # 10,000 clean views and no bonus earn 16.67 USD of the 50 paid (in alice's favour).
    assert alice.details["clawbacks"][0]["weight_now"] == 10_000
    assert alice.clawback_micros == 50_000_000 - 16_670_000


def test_computing_a_draft_again_replaces_it_and_an_approved_period_is_never_recomputed(
    db, fixed_pool
):
    eligible_creator(db, "alice", DAY1, 1_000)
    first = compute(db, DAY1)
    eligible_creator(db, "bob", DAY1, 1_000)

    again = compute(db, DAY1)

    assert again.id == first.id
    assert {c: line.share_micros for c, line in lines_of(db, again.id).items()} == {
        "alice": 50_000_000,
        "bob": 50_000_000,
    }
    payout_runs.approve(db, again.id, FINANCE, utcnow())
    with pytest.raises(Conflict) as raised:
        compute(db, DAY1)
    assert raised.value.code == "run_already_approved"


def test_runs_may_not_overlap_and_the_period_must_be_over(db, fixed_pool):
    last_month = TODAY.replace(day=1) - timedelta(days=1)
    eligible_creator(db, "alice", last_month, 1_000)
    compute(db, last_month)
    month = payout_runs.parse_period(last_month.strftime("%Y-%m"))
    with pytest.raises(Conflict) as raised:
        payout_runs.compute(db, month, FINANCE, utcnow())
    assert raised.value.code == "overlapping_run"
    with pytest.raises(InvalidInput):  # today, read now: TODAY may be over past midnight
        compute(db, utcnow().date())
    for bad in ("2026-13", "2026-02-30", "yesterday", "2026-1-1"):
        with pytest.raises(InvalidInput):
            payout_runs.parse_period(bad)


@pytest.mark.parametrize("period", ["0001-01-05", "0001-01", "0001-12-31"])
def test_a_period_whose_trailing_window_could_reach_before_year_one_is_refused(db, period):
    """Up to 366 trailing days before the period must still be dates."""
    set_rules(db, trailing_days=366)
    with pytest.raises(InvalidInput) as raised:
        payout_runs.parse_period(period)
    assert set(raised.value.fields) == {"period"}
    with pytest.raises(InvalidInput):
        compute(db, date(1, 1, 5))
    earliest = payout_runs.parse_period("0002-01-01")
    assert payout_runs.compute(db, earliest, FINANCE, utcnow()).period_start == earliest.start


def test_approval_puts_the_shares_in_the_ledger_and_records_the_approver(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 3_000)
    eligible_creator(db, "bob", DAY1, 1_000)
    run = compute(db, DAY1)

    approved = payout_runs.approve(db, run.id, FINANCE, utcnow())

    assert approved.status is PayoutRunStatus.APPROVED
    assert approved.approved_by == FINANCE.id
    with db.read() as session:
        assert ledger.balance(session, creator_payable("alice", "USD")) == 75_000_000
        assert ledger.balance(session, creator_payable("bob", "USD")) == 25_000_000
        assert ledger.balance(session, platform(AccountKind.CREATOR_FUND_POOL, "USD")) == 0
        assert (
            ledger.balance(session, platform(AccountKind.CREATOR_FUND_EXPENSE, "USD"))
            == -HUNDRED_DOLLARS
        )
    assert ledger.check(db).ok
    with pytest.raises(Conflict):
        payout_runs.approve(db, run.id, FINANCE, utcnow())


def test_balances_below_the_minimum_carry_over_until_they_reach_it(db):
    set_rules(
        db,
        pool_mode="FIXED",
        fixed_pool_micros_per_day=20_000_000,
        minimum_payout_micros=10_000_000,
    )
    eligible_creator(db, "big", DAY1, 7_000)
    eligible_creator(db, "small", DAY1, 3_000)
    views(db, "big", DAY2, 7_000)
    views(db, "small", DAY2, 3_000)

    first = compute(db, DAY1)
    first_lines = lines_of(db, first.id)
    assert first_lines["small"].status is PayoutLineStatus.CARRIED
    assert first_lines["small"].carried_out_micros == 6_000_000
    assert first_lines["small"].payable_micros == 0
    payout_runs.approve(db, first.id, FINANCE, utcnow())

    second = compute(db, DAY2)
    small = lines_of(db, second.id)["small"]
    assert small.carried_in_micros == 6_000_000
    assert small.details == {"carried_from": [first.id]}
    assert small.status is PayoutLineStatus.PAYABLE
    assert small.payable_micros == 12_000_000
    payout_runs.approve(db, second.id, FINANCE, utcnow())

    assert lines_of(db, first.id)["small"].carried_to_run_id == second.id
    with db.read() as session:
        assert ledger.balance(session, creator_payable("small", "USD")) == 12_000_000
    third = compute(db, DAY3)
    assert lines_of(db, third.id)["small"].carried_in_micros == 0


def test_a_draft_computed_before_another_approval_is_stale(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 1_000)
    views(db, "alice", DAY2, 1_000)
    first, second = compute(db, DAY1), compute(db, DAY2)
    payout_runs.approve(db, first.id, FINANCE, utcnow())

    with pytest.raises(Conflict) as raised:
        payout_runs.approve(db, second.id, FINANCE, utcnow())

    assert raised.value.code == "stale_run"
    again = compute(db, DAY2)
    assert payout_runs.approve(db, again.id, FINANCE, utcnow()).status is PayoutRunStatus.APPROVED


def test_a_draft_in_a_currency_no_longer_in_force_is_not_approved(db):
    """Its carried balances would be in a currency no later run takes over."""
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=5_000_000)  # under the minimum
    eligible_creator(db, "alice", DAY1, 1_000)
    views(db, "alice", DAY2, 1_000)
    draft = compute(db, DAY1)
    assert lines_of(db, draft.id)["alice"].carried_out_micros == 5_000_000
    set_rules(db, currency="EUR")  # nothing approved yet: allowed

    with pytest.raises(Conflict) as raised:
        payout_runs.approve(db, draft.id, FINANCE, utcnow())

    assert raised.value.code == "currency_changed"
    assert payout_runs.get(db, draft.id).status is PayoutRunStatus.DRAFT
    assert ledger.check(db).ok
    again = compute(db, DAY1)
    assert again.currency == "EUR"
    payout_runs.approve(db, again.id, FINANCE, utcnow())
    assert lines_of(db, compute(db, DAY2).id)["alice"].carried_in_micros == 5_000_000


@needs_postgres
def test_a_currency_change_waits_for_an_approval_under_way_and_is_then_refused(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 1_000)
    draft = compute(db, DAY1)
    locked, approve_now = threading.Event(), threading.Event()

    def approval_under_way():
        with db.transaction() as session:
            fund_rules.lock_programme(session, utcnow())  # as approve() does
            locked.set()
            approve_now.wait(10)
            session.execute(
                update(PayoutRun)
                .where(PayoutRun.id == draft.id)
                .values(status=PayoutRunStatus.APPROVED)
            )

    outcome = []

    def change_currency():
        try:
            outcome.append(fund_rules.change(db, {"currency": "EUR"}, None, ADMIN, utcnow()))
        except InvalidInput as error:
            outcome.append(error)

    approver = threading.Thread(target=approval_under_way)
    approver.start()
    assert locked.wait(10)
    changer = threading.Thread(target=change_currency)
    changer.start()
    changer.join(0.5)
    waited = changer.is_alive()
    approve_now.set()
    approver.join(10)
    changer.join(10)

    assert waited
    assert len(outcome) == 1 and isinstance(outcome[0], InvalidInput)
    assert fund_rules.current(db, utcnow()).rules.currency == "USD"


def test_traffic_found_invalid_later_is_clawed_back_in_the_next_run_once(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 0)
    video = views(db, "alice", DAY1, 3_000)
    eligible_creator(db, "bob", DAY1, 1_000)
    views(db, "alice", DAY2, 1_000)
    views(db, "bob", DAY2, 1_000)
    first = compute(db, DAY1)
    payout_runs.approve(db, first.id, FINANCE, utcnow())
    assert lines_of(db, first.id)["alice"].share_micros == 75_000_000

    # A third of alice's views on day 1 turn out to be invalid traffic.
    views(db, "alice", DAY1, 3_000, video_id=video, invalid=1_000)
    second = compute(db, DAY2)
    alice = lines_of(db, second.id)["alice"]

    # At day 1's rate (25 USD per 1,000 views) 2,000 views earn 50 USD: 25 USD come back.
    assert alice.clawback_micros == 25_000_000
    assert alice.details["clawbacks"] == [
        {"run_id": first.id, "weight_paid": 3_000, "weight_now": 2_000, "micros": 25_000_000}
    ]
    assert alice.payable_micros == 50_000_000 - 25_000_000
    payout_runs.approve(db, second.id, FINANCE, utcnow())
    with db.read() as session:
        taken = session.scalars(select(Clawback)).all()
        assert [(c.creator_id, c.amount_micros) for c in taken] == [("alice", 25_000_000)]
        # 75 + 50 − 25 USD owed to alice.
        assert ledger.balance(session, creator_payable("alice", "USD")) == 100_000_000
    assert ledger.check(db).ok

    third = compute(db, DAY3)
    assert lines_of(db, third.id)["alice"].clawback_micros == 0


def test_views_found_invalid_in_the_period_can_leave_too_few_trailing_views_to_be_paid(
    db, fixed_pool
):
    add_creator(db, "alice")
    trailing_views(db, "alice", DAY1, 3_000)  # 87,000 in the 29 days before
    video = views(db, "alice", DAY1, 20_000)  # 107,000 trailing: eligible
    eligible_creator(db, "bob", DAY1, 20_000)
    first = compute(db, DAY1)
    payout_runs.approve(db, first.id, FINANCE, utcnow())
    assert lines_of(db, first.id)["alice"].share_micros == 50_000_000

    # 15,000 of the day's views were invalid: 92,000 trailing, below the 100,000 required.
    views(db, "alice", DAY1, 20_000, video_id=video, invalid=15_000)
    alice = lines_of(db, compute(db, DAY2).id)["alice"]

    # Not eligible after all: the whole share comes back, not only what 15,000 views earned.
    assert alice.clawback_micros == 50_000_000
    assert alice.details["clawbacks"] == [
        {"run_id": first.id, "weight_paid": 20_000, "weight_now": 0, "micros": 50_000_000}
    ]


def test_invalid_traffic_found_before_the_period_in_its_trailing_window_is_clawed_back(
    db, fixed_pool
):
    add_creator(db, "alice")
    trailing_views(db, "alice", DAY1, 3_000)  # 87,000
    bot = views(db, "alice", DAY1 - timedelta(days=3), 15_000)
    views(db, "alice", DAY1, 10_000)  # 112,000 trailing: eligible
    eligible_creator(db, "bob", DAY1, 10_000)
    first = compute(db, DAY1)
    payout_runs.approve(db, first.id, FINANCE, utcnow())
    assert first.trailing_start == DAY1 - timedelta(days=29)
    assert lines_of(db, first.id)["alice"].share_micros == 50_000_000

    # A day before the paid one, inside its 30 trailing days, turns out to be a bot farm.
    views(db, "alice", DAY1 - timedelta(days=3), 15_000, video_id=bot, invalid_traffic=True)
    alice = lines_of(db, compute(db, DAY2).id)["alice"]

    # 97,000 trailing views: alice was never eligible for day 1.
    assert alice.clawback_micros == 50_000_000
    assert alice.details["clawbacks"][0]["weight_now"] == 0


def test_a_correction_before_the_period_that_leaves_enough_trailing_views_takes_nothing(db):
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=HUNDRED_DOLLARS, trailing_days=10)
    add_creator(db, "alice")
    trailing_views(db, "alice", DAY1, 12_000, days=9)  # 108,000 in the 9 days before
    views(db, "alice", DAY1, 10_000)  # 118,000 trailing
    bot = views(db, "alice", DAY1 - timedelta(days=10), 50_000)  # outside the 10 days
    add_creator(db, "bob")
    trailing_views(db, "bob", DAY1, 12_000, days=9)
    views(db, "bob", DAY1, 10_000)
    first = compute(db, DAY1)
    payout_runs.approve(db, first.id, FINANCE, utcnow())
    assert first.trailing_start == DAY1 - timedelta(days=9)
    assert lines_of(db, first.id)["alice"].share_micros == 50_000_000

    # Inside the window: 12,000 fewer leave 106,000, still eligible; outside it: no effect.
    views(db, "alice", DAY1 - timedelta(days=4), 12_000, video_id="history-alice", invalid=12_000)
    views(db, "alice", DAY1 - timedelta(days=10), 50_000, video_id=bot, invalid_traffic=True)
    views(db, "bob", DAY1 - timedelta(days=2), 5_000, video_id="history-bob", invalid=5_000)
    second = compute(db, DAY2)

    assert lines_of(db, second.id)["alice"].clawback_micros == 0
    assert lines_of(db, second.id)["bob"].clawback_micros == 0
    assert second.totals["clawback_micros"] == 0


def test_a_month_longer_than_its_trailing_window_is_clawed_back_from_its_first_day(db):
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=HUNDRED_DOLLARS, trailing_days=10)
    last = YESTERDAY.replace(day=1) - timedelta(days=1)
    month = payout_runs.Period(PeriodKind.MONTH, last.replace(day=1), last)
    for creator_id in ("alice", "bob"):
        add_creator(db, creator_id)
        for number in range(month.days):
            views(db, creator_id, month.start + timedelta(days=number), 12_000, video_id=creator_id)
    first = payout_runs.compute(db, month, FINANCE, utcnow())
    payout_runs.approve(db, first.id, FINANCE, utcnow())
    assert first.trailing_start > month.start  # the window is shorter than the month
    paid = lines_of(db, first.id)["alice"].share_micros
    assert paid == first.pool_micros // 2

    # The month's first day, before the trailing window, is found invalid.
    views(db, "alice", month.start, 12_000, video_id="alice", invalid_traffic=True)
    second = compute(db, YESTERDAY)
    # One day of the month's weight comes back, to the cent (rounded in her favour).
    taken = lines_of(db, second.id)["alice"].clawback_micros
    assert abs(taken - paid // month.days) <= 10_000
    assert lines_of(db, second.id)["bob"].clawback_micros == 0


def test_a_cap_holds_and_its_excess_goes_to_the_others(db):
    set_rules(
        db, pool_mode="FIXED", fixed_pool_micros_per_day=HUNDRED_DOLLARS, cap_micros=40_000_000
    )
    eligible_creator(db, "alice", DAY1, 8_000)
    eligible_creator(db, "bob", DAY1, 1_000)
    eligible_creator(db, "carol", DAY1, 1_000)

    run = compute(db, DAY1)
    lines = lines_of(db, run.id)

    assert lines["alice"].capped and lines["alice"].share_micros == 40_000_000
    assert lines["bob"].share_micros == lines["carol"].share_micros == 30_000_000
    assert run.totals["capped"] == 1


def test_everything_undistributed_when_no_one_is_eligible(db, fixed_pool):
    add_creator(db, "alice", verified_age=None)
    views(db, "alice", DAY1, 1_000)

    run = compute(db, DAY1)
    payout_runs.approve(db, run.id, FINANCE, utcnow())

    assert run.distributed_micros == 0
    assert run.totals["undistributed_micros"] == HUNDRED_DOLLARS
    assert ledger.check(db).ok


def test_each_line_explains_itself_and_the_run_exports_as_csv(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 1_000)
    eligible_creator(db, "bob", DAY1, 2_000)
    eligible_creator(db, "=cmd", DAY1, 1, followers=5)
    run = compute(db, DAY1)
    lines = lines_of(db, run.id)

    said = " ".join(explain(run, lines["alice"], Rules.from_dict(_rules(db, run))))
    assert "Weight 1,000" in said
    assert "33333333.333333 micros" in said
    assert "Rounded to 33.33 USD (-3333.333333 micros)" in said
    assert "paid by Stripe transfer" in said
    excluded = " ".join(explain(run, lines["=cmd"], Rules.from_dict(_rules(db, run))))
    assert "fewer than 10,000 followers" in excluded

    text = "".join(csv_rows(run, payout_runs.all_lines(db, run.id)))
    rows = text.splitlines()
    assert rows[0].startswith("run_id,period,currency,creator_id,status")
    assert len(rows) == 4
    assert any(row.split(",")[3] == "'=cmd" for row in rows[1:])
    assert sum(int(row.split(",")[12]) for row in rows[1:]) == HUNDRED_DOLLARS


def _rules(db, run) -> dict:
    return fund_rules.get(db, run.rules_version).rules.to_dict()


def test_a_draft_can_be_deleted_but_an_approved_run_cannot(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 1_000)
    run = compute(db, DAY1)
    payout_runs.delete_draft(db, run.id, utcnow())
    assert lines_of(db, run.id) == {}
    run = compute(db, DAY1)
    payout_runs.approve(db, run.id, FINANCE, utcnow())
    with pytest.raises(Conflict):
        payout_runs.delete_draft(db, run.id, utcnow())


def test_rules_refuse_unknown_names_and_a_currency_change_after_an_approval(db, fixed_pool):
    for changes in ({"bogus": 1}, {"countries": "US"}, {"currency": "XXY"}, {"pool_mode": "X"}):
        with pytest.raises(InvalidInput):
            fund_rules.change(db, changes, None, ADMIN, utcnow())
    assert fund_rules.change(db, {"currency": "EUR"}, None, ADMIN, utcnow()).rules.currency == "EUR"
    set_rules(db, currency="USD")
    eligible_creator(db, "alice", DAY1, 1_000)
    payout_runs.approve(db, compute(db, DAY1).id, FINANCE, utcnow())
    with pytest.raises(InvalidInput) as raised:
        fund_rules.change(db, {"currency": "EUR"}, None, ADMIN, utcnow())
    assert "once a payout run was approved" in str(raised.value.fields)


def test_staleness_does_not_trust_clocks(db, fixed_pool):
    """A draft computed before another approval is stale even if that approval's clock was
    behind the draft's (hosts disagree, requests wait for the lock)."""
    eligible_creator(db, "alice", DAY1, 1_000)
    views(db, "alice", DAY2, 1_000)
    later = utcnow() + timedelta(seconds=30)
    first = payout_runs.compute(db, day(DAY1), FINANCE, utcnow())
    second = payout_runs.compute(db, day(DAY2), FINANCE, later)
    payout_runs.approve(db, first.id, FINANCE, utcnow())  # approved "before" second's compute
    with pytest.raises(Conflict) as raised:
        payout_runs.approve(db, second.id, FINANCE, later + timedelta(seconds=1))
    assert raised.value.code == "stale_run"


def test_a_correction_written_while_the_run_was_computing_is_still_clawed_back(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 0)
    video = views(db, "alice", DAY1, 3_000)
    eligible_creator(db, "bob", DAY1, 1_000)
    first = compute(db, DAY1)
    payout_runs.approve(db, first.id, FINANCE, utcnow())
    # A batch that started a second before the run was computed commits after it.
    views(db, "alice", DAY1, 3_000, video_id=video, invalid=1_000)
    with db.transaction() as session:
        session.execute(
            VideoEngagement.__table__.update()
            .where(VideoEngagement.video_id == video)
            .values(updated_at=first.computed_at - timedelta(seconds=1))
        )
    views(db, "alice", DAY2, 1_000)
    views(db, "bob", DAY2, 1_000)

    assert lines_of(db, compute(db, DAY2).id)["alice"].clawback_micros == 25_000_000


def test_leaving_the_programme_later_does_not_claw_back_what_was_earned(db, fixed_pool):
    eligible_creator(db, "alice", DAY1, 0)
    video = views(db, "alice", DAY1, 3_000)
    eligible_creator(db, "bob", DAY1, 1_000)
    views(db, "bob", DAY2, 1_000)
    first = compute(db, DAY1)
    payout_runs.approve(db, first.id, FINANCE, utcnow())
    with db.transaction() as session:
        session.execute(
            Creator.__table__.update().where(Creator.id == "alice").values(joined_on=None)
        )
    views(db, "alice", DAY1, 3_000, video_id=video, likes=5)  # a harmless correction

    assert lines_of(db, compute(db, DAY2).id)["alice"].clawback_micros == 0


def test_when_everyone_was_capped_a_lower_weight_still_earns_the_cap(db):
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=300_000_000, cap_micros=100_000_000)
    eligible_creator(db, "alice", DAY1, 0)
    video = views(db, "alice", DAY1, 1_000)
    eligible_creator(db, "bob", DAY1, 1_000)
    views(db, "bob", DAY2, 1_000)
    first = compute(db, DAY1)
    assert first.totals["undistributed_micros"] == 100_000_000
    payout_runs.approve(db, first.id, FINANCE, utcnow())
    views(db, "alice", DAY1, 1_000, video_id=video, invalid=600)

    assert lines_of(db, compute(db, DAY2).id)["alice"].clawback_micros == 0

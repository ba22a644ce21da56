"""Paying approved runs through Stripe Connect transfers (localstripe with the Account and
Transfer resources of tests/stripe_server.py, through the official SDK): each creator is paid
exactly once, failures keep their reason, and paying again finishes the run, also after the
paying process was killed halfway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from adsmanager.db.base import utcnow
from adsmanager.db.creator_fund import Creator, PayoutLine
from adsmanager.services import ledger, payout_runs, payouts
from adsmanager.services.errors import Conflict
from adsmanager.vocabulary import PayoutLineStatus, PayoutRunStatus, PeriodKind
from billing.ledger import AccountKind, creator_payable, platform
from billing.stripe_gateway import StripeGateway
from tests.fund_data import FINANCE, YESTERDAY, add_creator, set_rules, trailing_views, views
from tests.stripe_server import REPO_ROOT, StripeServer

POOL = 100_000_000


def gateway_for(server: StripeServer) -> StripeGateway:
    return StripeGateway(server.api_key, api_base=server.url, max_network_retries=0)


def connected_account(gateway: StripeGateway, creator_id: str, transfers: bool = True) -> str:
    if transfers:
        return gateway.create_connected_account("US", None, {"creator": creator_id}, creator_id)
    # Without the transfers capability (an account still being onboarded).
    account = gateway._client.v1.accounts.create(params={"type": "express", "country": "US"})
    return account.id


def approved_run(
    db, gateway, creators: dict[str, int], *, no_account=(), unable=(), pool=POOL
) -> str:
    """An approved run of yesterday in which each creator is owed a share of ``pool``."""
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=pool)
    for creator_id, qualified in creators.items():
        account = None
        if creator_id not in no_account:
            account = connected_account(gateway, creator_id, creator_id not in unable)
        add_creator(db, creator_id, stripe_account_id=account)
        trailing_views(db, creator_id, YESTERDAY, 5_000)
        views(db, creator_id, YESTERDAY, qualified)
    period = payout_runs.Period(PeriodKind.DAY, YESTERDAY, YESTERDAY)
    run = payout_runs.compute(db, period, FINANCE, utcnow())
    return payout_runs.approve(db, run.id, FINANCE, utcnow()).id


def lines(db, run_id) -> dict[str, PayoutLine]:
    with db.read() as session:
        rows = session.scalars(select(PayoutLine).where(PayoutLine.run_id == run_id))
        return {line.creator_id: line for line in rows}


def transfers_by_creator(gateway, run_id) -> Counter:
    return Counter(t.metadata["creator_id"] for t in gateway.transfers(f"payout-run:{run_id}"))


def payable(db, creator_id) -> int:
    with db.read() as session:
        return ledger.balance(session, creator_payable(creator_id, "USD"))


@pytest.fixture
def gateway(stripe_server) -> StripeGateway:
    return gateway_for(stripe_server)


def test_paying_a_run_transfers_each_share_once_and_empties_the_payable_accounts(db, gateway):
    run_id = approved_run(db, gateway, {"alice": 3_000, "bob": 1_000})

    result = payouts.pay(db, gateway, run_id, FINANCE, utcnow)

    assert (result.paid, result.failed) == (2, 0)
    assert result.run.status is PayoutRunStatus.PAID
    paid = lines(db, run_id)
    assert {c: line.status for c, line in paid.items()} == {
        "alice": PayoutLineStatus.PAID,
        "bob": PayoutLineStatus.PAID,
    }
    stripe_side = {t.id: t for t in gateway.transfers(f"payout-run:{run_id}")}
    assert {t.metadata["creator_id"]: t.amount.micros for t in stripe_side.values()} == {
        "alice": 75_000_000,
        "bob": 25_000_000,
    }
    assert paid["alice"].stripe_transfer_id in stripe_side
    assert (
        stripe_side[paid["alice"].stripe_transfer_id].destination == paid["alice"].stripe_account_id
    )
    assert payable(db, "alice") == payable(db, "bob") == 0
    with db.read() as session:
        assert ledger.balance(session, platform(AccountKind.STRIPE_CLEARING, "USD")) == POOL
    assert ledger.check(db).ok

    again = payouts.pay(db, gateway, run_id, FINANCE, utcnow)
    assert (again.paid, again.failed) == (0, 0)
    assert transfers_by_creator(gateway, run_id) == {"alice": 1, "bob": 1}


def test_a_failing_creator_leaves_the_run_partially_paid_and_paying_again_finishes_it(db, gateway):
    run_id = approved_run(
        db,
        gateway,
        {"alice": 2_000, "bob": 1_000, "carol": 1_000},
        no_account=("bob",),
        unable=("carol",),
    )

    first = payouts.pay(db, gateway, run_id, FINANCE, utcnow)

    assert (first.paid, first.failed) == (1, 2)
    assert first.run.status is PayoutRunStatus.PARTIALLY_PAID
    after = lines(db, run_id)
    assert after["alice"].status is PayoutLineStatus.PAID
    assert after["bob"].status is PayoutLineStatus.FAILED
    assert after["bob"].failure_reason == payouts.NO_ACCOUNT
    assert after["carol"].status is PayoutLineStatus.FAILED
    assert "capabilities" in after["carol"].failure_reason
    # Stripe refused carol's transfer: no money moved, the next attempt gets a new key.
    assert after["carol"].transfer_key == f"payout:{run_id}:carol#2"
    assert payable(db, "bob") == 25_000_000

    # Both creators finish onboarding; finance pays again.
    with db.transaction() as session:
        for creator_id in ("bob", "carol"):
            session.execute(
                update(Creator)
                .where(Creator.id == creator_id)
                .values(stripe_account_id=connected_account(gateway, f"{creator_id}-2"))
            )
    second = payouts.pay(db, gateway, run_id, FINANCE, utcnow)

    assert (second.paid, second.failed) == (2, 0)
    assert second.run.status is PayoutRunStatus.PAID
    assert transfers_by_creator(gateway, run_id) == {"alice": 1, "bob": 1, "carol": 1}
    assert all(line.failure_reason is None for line in lines(db, run_id).values())
    assert ledger.check(db).ok


def test_a_draft_cannot_be_paid(db, gateway):
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=POOL)
    add_creator(db, "alice")
    period = payout_runs.Period(PeriodKind.DAY, YESTERDAY, YESTERDAY)
    run = payout_runs.compute(db, period, FINANCE, utcnow())
    with pytest.raises(Conflict):
        payouts.pay(db, gateway, run.id, FINANCE, utcnow)


@pytest.fixture
def slow_stripe() -> Iterator[StripeServer]:
    """A Stripe whose transfers are made at once but answered only after 0.3 s."""
    server = StripeServer(transfer_delay_seconds=0.3)
    yield server
    server.stop()


def test_a_payer_killed_halfway_is_finished_by_the_next_without_paying_anyone_twice(
    db, database_url, slow_stripe
):
    gateway = gateway_for(slow_stripe)
    creators = {f"creator_{i:02d}": 1_000 + i for i in range(12)}
    run_id = approved_run(db, gateway, creators, pool=12 * POOL)
    env = {
        **os.environ,
        "ADSMANAGER_DATABASE_URL": database_url,
        "STRIPE_API_KEY": slow_stripe.api_key,
        "STRIPE_API_BASE": slow_stripe.url,
    }
    payer = subprocess.Popen(
        [sys.executable, "-m", "adsmanager.cli", "payouts", "pay", run_id],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    # Kill it while a transfer is made in Stripe but not yet answered (or recorded).
    while sum(transfers_by_creator(gateway, run_id).values()) < 5:
        assert payer.poll() is None, "the payer finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    payer.send_signal(signal.SIGKILL)
    payer.wait(10)
    made = sum(transfers_by_creator(gateway, run_id).values())
    with db.read() as session:
        recorded = session.query(PayoutLine).filter_by(status=PayoutLineStatus.PAID).count()
    assert recorded < made <= len(creators)  # at least one transfer went unrecorded

    result = payouts.pay(db, gateway, run_id, FINANCE, utcnow)

    assert result.run.status is PayoutRunStatus.PAID
    assert transfers_by_creator(gateway, run_id) == dict.fromkeys(creators, 1)
    assert all(line.status is PayoutLineStatus.PAID for line in lines(db, run_id).values())
    assert all(payable(db, creator_id) == 0 for creator_id in creators)
    with db.read() as session:
        assert ledger.balance(session, platform(AccountKind.STRIPE_CLEARING, "USD")) == 12 * POOL
    assert ledger.check(db).ok


def test_ids_with_colons_never_share_a_key_or_a_transfer(db, gateway):
    """A refused "a" is asked again with its own next key, never "a:2"'s first one."""
    run_id = approved_run(
        db, gateway, {"a": 1_000, "a:2": 1_000, "x:y": 1_000}, unable=("a", "x:y")
    )

    first = payouts.pay(db, gateway, run_id, FINANCE, utcnow)

    assert (first.paid, first.failed) == (1, 2)
    with db.transaction() as session:
        for creator_id in ("a", "x:y"):
            session.execute(
                update(Creator)
                .where(Creator.id == creator_id)
                .values(stripe_account_id=connected_account(gateway, f"{creator_id}-ok"))
            )
    second = payouts.pay(db, gateway, run_id, FINANCE, utcnow)

    assert (second.paid, second.failed) == (2, 0)
    paid = lines(db, run_id)
    transfer_ids = {line.stripe_transfer_id for line in paid.values()}
    assert len(transfer_ids) == 3  # three creators, three different transfers
    assert transfers_by_creator(gateway, run_id) == {"a": 1, "a:2": 1, "x:y": 1}
    assert paid["a"].transfer_key == f"payout:{run_id}:a#2"

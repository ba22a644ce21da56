"""The ledger as stored: idempotent posting, exact balances, and the same under concurrency
(threads and processes on PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import threading
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent
from adsmanager.db.ledger import JournalEntry
from adsmanager.db.models import Advertiser
from adsmanager.services import funding, ledger, spend_posting
from billing import ledger as rules
from billing.money import Money
from tests.conftest import TEST_DATABASE_URL
from tests.funding import pay
from tests.ledger_data import charge

needs_postgres = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="needs PostgreSQL: set ADSMANAGER_TEST_DATABASE_URL",
)


def _advertiser(db: Database) -> str:
    advertiser_id = f"adv_{uuid.uuid4().hex[:20]}"
    with db.transaction() as session:
        session.add(
            Advertiser(id=advertiser_id, name="Ledger", currency="USD", timezone="Europe/Paris")
        )
    return advertiser_id


def _balance(db: Database, advertiser_id: str) -> int:
    with db.read() as session:
        return ledger.balance(session, rules.advertiser_balance(advertiser_id, "USD"))


def _post(db: Database, entry) -> bool:
    now = utcnow()
    with db.transaction() as session:
        return bool(ledger.post(session, [entry], now, "tests", now))


def _succeeded(advertiser_id: str, intent_id: str, minor_units: int, event_id: str) -> dict:
    return {
        "id": event_id,
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": intent_id,
                "amount": minor_units,
                "amount_received": minor_units,
                "currency": "usd",
                "metadata": {"advertiser_id": advertiser_id, "top_up_id": f"top_{intent_id}"},
            }
        },
    }


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("top_up"), st.integers(1, 10_000)),  # cents
        st.tuples(st.just("spend"), st.integers(1, 5_000_000)),  # micros
        st.tuples(st.just("refund"), st.integers(1, 10_000)),  # cents
        st.tuples(st.just("credit"), st.integers(1, 5_000_000)),
        st.tuples(st.just("post_spend"), st.just(0)),
        st.tuples(st.just("replay"), st.integers(0, 50)),
    ),
    max_size=25,
)


@settings(max_examples=30, deadline=None)
@given(operations=OPERATIONS)
def test_random_money_movements_keep_the_ledger_exact(db, operations):
    advertiser_id = _advertiser(db)
    expected = 0
    done: list = []  # entries and events already applied once, to replay
    for number, (operation, amount) in enumerate(operations):
        key = f"{advertiser_id}-{number}"
        if operation == "top_up":
            event = _succeeded(advertiser_id, f"pi_{key}", amount, f"evt_{key}")
            assert funding.handle_stripe_event(db, event).startswith("credited")
            done.append(event)
            expected += amount * 10_000
        elif operation == "spend":
            charge(db, advertiser_id, amount)
            expected -= amount
        elif operation == "refund":
            entry = rules.refund(advertiser_id, Money("USD", amount * 10_000), f"re_{key}", "t", "")
            assert _post(db, entry)
            done.append(entry)
            expected -= amount * 10_000
        elif operation == "credit":
            entry = rules.manual_credit(advertiser_id, Money("USD", amount), key, "goodwill")
            assert _post(db, entry)
            done.append(entry)
            expected += amount
        elif operation == "post_spend":
            spend_posting.post_spend(db)
        elif done:  # a replay of something already applied changes nothing
            again = done[amount % len(done)]
            if isinstance(again, dict):
                assert funding.handle_stripe_event(db, again).startswith("duplicate")
            else:
                assert not _post(db, again)
    spend_posting.post_spend(db)
    assert _balance(db, advertiser_id) == expected
    check = ledger.check(db)
    assert check.ok, check
    with db.read() as session:
        keys = session.scalars(
            select(JournalEntry.idempotency_key).where(JournalEntry.advertiser_id == advertiser_id)
        ).all()
        unposted = session.scalar(
            select(func.count())
            .select_from(AdEvent)
            .where(AdEvent.advertiser_id == advertiser_id, spend_posting.unposted_charges())
        )
    assert len(keys) == len(set(keys))
    assert unposted == 0


def _concurrent_work(url: str, advertiser_id: str, worker: int, rounds: int) -> None:
    """Charges, spend posting and top-ups (each event delivered by two workers)."""
    db = Database(url)
    try:
        for round_ in range(rounds):
            charge(db, advertiser_id, 1_000 + worker)
            spend_posting.post_spend(db, batch_size=7)
            shared = f"{advertiser_id}-{round_}-{worker // 2}"  # workers 0,1 share; 2,3 share
            funding.handle_stripe_event(
                db, _succeeded(advertiser_id, f"pi_{shared}", 100, f"evt_{shared}")
            )
    finally:
        db.dispose()


def _expected(workers: int, rounds: int) -> int:
    top_ups = rounds * (workers // 2) * 1_000_000
    spend = rounds * sum(1_000 + worker for worker in range(workers))
    return top_ups - spend


def _settle_and_check(db: Database, advertiser_id: str, workers: int, rounds: int) -> None:
    spend_posting.post_spend(db)
    assert _balance(db, advertiser_id) == _expected(workers, rounds)
    assert ledger.check(db).ok


@needs_postgres
def test_concurrent_threads_end_with_exact_balances(db):
    advertiser_id = _advertiser(db)
    workers, rounds = 6, 15
    threads = [
        threading.Thread(target=_concurrent_work, args=(db.url, advertiser_id, w, rounds))
        for w in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _settle_and_check(db, advertiser_id, workers, rounds)


@needs_postgres
def test_concurrent_processes_end_with_exact_balances(db):
    advertiser_id = _advertiser(db)
    workers, rounds = 4, 15
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_concurrent_work, args=(db.url, advertiser_id, w, rounds))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    _settle_and_check(db, advertiser_id, workers, rounds)


@needs_postgres
def test_concurrent_refunds_never_refund_more_than_is_unspent(db, app, stripe_server):
    """Two top-ups of 100, 150 spent: of two refunds of 50, from different top-ups at the
    same moment, only one passes."""
    from adsmanager.db.funding import TopUp
    from adsmanager.services import refunds
    from adsmanager.services.access import Actor
    from adsmanager.vocabulary import Role, TopUpStatus

    advertiser_id = _advertiser(db)
    gateway = funding.make_gateway(app.extensions["adsmanager.settings"])
    customer = gateway.create_customer("Refunds", {}, f"c-{advertiser_id}")
    for number in range(2):
        intent = gateway.create_payment_intent(
            customer, Money("USD", 100_000_000), {}, f"{advertiser_id}-{number}"
        )
        pay(stripe_server, intent.id)
        with db.transaction() as session:
            session.add(
                TopUp(
                    id=f"top_{advertiser_id[4:]}{number}",
                    advertiser_id=advertiser_id,
                    amount_micros=100_000_000,
                    currency="USD",
                    status=TopUpStatus.SUCCEEDED,
                    idempotency_key=str(number),
                    payment_intent_id=intent.id,
                )
            )
        _post(db, rules.top_up(advertiser_id, Money("USD", 100_000_000), intent.id, "t"))
    charge(db, advertiser_id, 150_000_000)
    admin = Actor("admin", Role.ADMIN)
    outcomes = []

    def refund(number: int) -> None:
        try:
            refunds.refund(
                db,
                gateway,
                admin,
                advertiser_id,
                top_up_id=f"top_{advertiser_id[4:]}{number}",
                amount_micros=50_000_000,
                reason="race",
            )
            outcomes.append("refunded")
        except Exception as error:  # noqa: BLE001 - the loser's reason is checked below
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=refund, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["InvalidInput", "refunded"]
    spend_posting.post_spend(db)
    assert _balance(db, advertiser_id) == 0

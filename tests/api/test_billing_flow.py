"""Charged events into the ledger, balances back into the auction, statements and
reconciliation out, through the API and the scheduled jobs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from adsmanager.db.delivery import AdEvent
from adsmanager.jobs.runner import run_job
from adsmanager.services import ledger, spend_posting
from billing import ledger as rules
from billing.money import Money
from tests.api.test_auction import ads_of, auction, servable
from tests.api.test_events import post_events
from tests.factories import create_advertiser, credit
from tests.funding import deliver, pay, start_top_up, stripe_client, stripe_event
from tests.ledger_data import charge


def _posted_spend(db, advertiser_id: str) -> int:
    with db.read() as session:
        account = rules.advertiser_balance(advertiser_id, "USD")
        return -sum(
            int(micros)
            for (micros,) in session.execute(
                text(
                    "SELECT p.amount_micros FROM ledger_postings p "
                    "JOIN journal_entries e ON e.id = p.entry_id "
                    "JOIN ledger_accounts a ON a.id = p.account_id "
                    "WHERE e.kind = 'SPEND' AND a.kind = :kind AND a.owner_id = :owner"
                ),
                {"kind": account.kind.value, "owner": advertiser_id},
            )
        )


def _report_spend(api) -> int:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    window = {
        "start": (today - timedelta(days=2)).isoformat(),
        "end": (today + timedelta(days=2)).isoformat(),
    }
    report = api.get(
        "/v1/reports/delivery", query_string={"level": "campaign", "granularity": "day", **window}
    )
    assert report.status_code == 200, report.json
    return sum(row["spend_micros"] for row in report.json["rows"])


def test_spend_is_posted_once_and_equals_the_delivery_report(
    admin, acme, globex, feed, serving, db, app
):
    servable(admin, acme[1], billing_event="CPM", bid_micros=5_000_000, targeting={})
    servable(admin, globex[1], billing_event="CPC", bid_micros=2_000_000, targeting={})
    tokens = []
    for page in range(30):
        for ad in ads_of(auction(feed, request_id=f"req-{page}")):
            tokens.append(ad["tracking"]["impression"])
            if page % 3 == 0:
                tokens.append(ad["tracking"]["click"])
    post_events(feed, tokens)
    settings = app.extensions["adsmanager.settings"]
    run = run_job("post_spend", db, settings)
    assert run.outcome == "succeeded" and "posted" in run.summary
    for advertiser, api in (acme, globex):
        spent = _report_spend(api)
        assert spent > 0
        assert _posted_spend(db, advertiser["id"]) == spent  # to the micro
    assert spend_posting.post_spend(db).charges == 0  # nothing twice
    post_events(feed, tokens)  # duplicates: charged nothing, so nothing new to post
    assert spend_posting.post_spend(db).charges == 0
    with db.read() as session:
        unposted = session.scalar(
            select(func.count()).where(spend_posting.unposted_charges()).select_from(AdEvent)
        )
    assert unposted == 0
    assert ledger.check(db).ok


def test_posting_in_small_batches_gives_the_same_ledger(admin, db):
    advertiser, _ = create_advertiser(admin, funds_micros=0)
    amounts = [1_000 * (i + 1) for i in range(25)]
    for i, micros in enumerate(amounts):
        charge(db, advertiser["id"], micros, campaign_id=f"cmp_{i % 3}")
    posted = spend_posting.post_spend(db, batch_size=4)
    assert (posted.charges, posted.micros) == (25, sum(amounts))
    assert _posted_spend(db, advertiser["id"]) == sum(amounts)
    assert ledger.check(db).ok


def test_an_advertiser_whose_money_runs_out_stops_serving(admin, feed, serving, db):
    # CPM alone pays the reserve: 100,000 micros per 1000 impressions, 100 per impression.
    advertiser, api = create_advertiser(admin, name="Thrifty", funds_micros=250)
    servable(admin, api, billing_event="CPM", bid_micros=5_000_000, targeting={})
    served = []
    for page in range(5):
        serving.balances.refresh()
        ads = ads_of(auction(feed, request_id=f"req-{page}"))
        served += ads
        if ads:
            post_events(feed, [ad["tracking"]["impression"] for ad in ads])
    # 100 + 100 + 100 spent before the balance (250 less unposted spend) reached zero.
    assert len(served) == 3
    balance = api.get("/v1/funding/balance").json
    assert balance["unposted_spend_micros"] == 300 and balance["available_micros"] == -50
    spend_posting.post_spend(db)  # posting moves spend into the ledger: still no money
    serving.balances.refresh()
    assert ads_of(auction(feed, request_id="req-after-posting")) == []
    credit(admin, advertiser["id"], 1_000_000)
    serving.balances.refresh()
    assert len(ads_of(auction(feed, request_id="req-after-credit"))) == 1


def test_an_unfunded_advertiser_does_not_serve(admin, feed, serving):
    _, api = create_advertiser(admin, name="Broke", funds_micros=0)
    servable(admin, api, billing_event="CPM", bid_micros=5_000_000, targeting={})
    assert ads_of(auction(feed)) == []


def test_the_ledger_refuses_to_change_or_forget_an_entry(admin, db):
    advertiser, _ = create_advertiser(admin)
    for statement in (
        "UPDATE ledger_postings SET amount_micros = amount_micros + 1",
        "DELETE FROM ledger_postings",
        "UPDATE journal_entries SET memo = 'rewritten'",
        "DELETE FROM journal_entries",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.transaction() as session:
            session.execute(text(statement))
    assert ledger.check(db).ok and ledger.check(db).entries == 1


# --- statements ------------------------------------------------------------------------------


def _at(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _post(db, entry, at: datetime) -> None:
    with db.transaction() as session:
        ledger.post(session, [entry], at, "tests", at)


@pytest.fixture
def statement_history(admin, db):
    """An advertiser in New York with a month of money movements around November 2026."""
    advertiser, api = create_advertiser(admin, name="Statements Inc", funds_micros=0)
    adv = advertiser["id"]
    campaign_a = api.post(
        "/v1/campaigns",
        json={
            "name": "Alpha",
            "objective": "TRAFFIC",
            "budget_mode": "DAILY",
            "budget_micros": 50_000_000,
        },
    ).json["id"]
    usd = lambda micros: Money("USD", micros)  # noqa: E731
    _post(db, rules.top_up(adv, usd(100_000_000), "pi_oct", "top_oct"), _at(20, 12, month=10))
    _post(db, rules.top_up(adv, usd(50_000_000), "pi_nov", "top_nov"), _at(10, 12))
    _post(db, rules.manual_credit(adv, usd(5_000_000), "crd_1", "make-good"), _at(11, 12))
    _post(db, rules.refund(adv, usd(20_000_000), "re_1", "top_oct", "unused"), _at(12, 12))
    # Spend on the night of Oct 31 / Nov 1: 03:30 UTC on Nov 1 is still October in New York.
    charge(db, adv, 1_000_000, campaign_id=campaign_a, at=_at(1, 3))
    charge(db, adv, 2_000_000, campaign_id=campaign_a, at=_at(1, 5))
    charge(db, adv, 3_000_000, campaign_id="cmp_gone", at=_at(15, 18))
    charge(db, adv, 4_000_000, campaign_id=campaign_a, at=_at(1, 6, month=12))
    spend_posting.post_spend(db)
    return advertiser, api, campaign_a


def test_a_monthly_statement_adds_up(statement_history, finance):
    advertiser, api, campaign_a = statement_history
    november = api.get(f"/v1/advertisers/{advertiser['id']}/statements/2026-11")
    assert november.status_code == 200, november.json
    body = november.json
    assert body["period_start"] == "2026-11-01T04:00:00+00:00"  # midnight in New York (EDT)
    assert body["period_end"] == "2026-12-01T05:00:00+00:00"  # (EST)
    assert (
        body["opening_balance_micros"],
        body["top_ups_micros"],
        body["credits_micros"],
        body["refunds_micros"],
        body["spend_micros"],
        body["closing_balance_micros"],
    ) == (99_000_000, 50_000_000, 5_000_000, 20_000_000, 5_000_000, 129_000_000)
    assert body["spend_by_campaign"] == [
        {"campaign_id": "cmp_gone", "campaign_name": "cmp_gone", "spend_micros": 3_000_000},
        {"campaign_id": campaign_a, "campaign_name": "Alpha", "spend_micros": 2_000_000},
    ]
    october = finance.get(f"/v1/advertisers/{advertiser['id']}/statements/2026-10").json
    assert october["closing_balance_micros"] == body["opening_balance_micros"]
    assert october["spend_micros"] == 1_000_000
    december = finance.get(f"/v1/advertisers/{advertiser['id']}/statements/2026-12").json
    assert december["opening_balance_micros"] == body["closing_balance_micros"]


def test_a_statement_as_csv(statement_history):
    advertiser, api, campaign_a = statement_history
    response = api.get(f"/v1/advertisers/{advertiser['id']}/statements/2026-11?format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["line"], row["amount_micros"]) for row in rows] == [
        ("opening_balance", "99000000"),
        ("top_ups", "50000000"),
        ("credits", "5000000"),
        ("refunds", "-20000000"),
        ("spend", "-3000000"),
        ("spend", "-2000000"),
        ("closing_balance", "129000000"),
    ]
    assert rows[-1]["amount"] == "129.000000"
    assert sum(int(row["amount_micros"]) for row in rows[:-1]) == int(rows[-1]["amount_micros"])


def test_statements_are_private_and_need_a_month(statement_history, admin):
    advertiser, _, _ = statement_history
    _, other = create_advertiser(admin, name="Nosy")
    path = f"/v1/advertisers/{advertiser['id']}/statements"
    assert other.get(f"{path}/2026-11").status_code == 404
    assert admin.get(f"{path}/2026-13").status_code == 422
    assert admin.get(f"{path}/November").status_code == 422


# --- reconciliation --------------------------------------------------------------------------


def test_reconciliation_finds_what_stripe_and_the_ledger_disagree_on(
    client, admin, finance, stripe_server, db
):
    advertiser, api = create_advertiser(admin, name="Reconciled", funds_micros=0)
    credited = start_top_up(api, 40_000_000)
    pay(stripe_server, credited["payment_intent_id"])
    deliver(
        client,
        stripe_event(stripe_server, "payment_intent.succeeded", credited["payment_intent_id"]),
    )
    refunded = admin.post(
        f"/v1/advertisers/{advertiser['id']}/refunds",
        json={"top_up_id": credited["id"], "amount_micros": 15_000_000, "reason": "r"},
    )
    assert refunded.status_code == 201
    window = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    clean = finance.post("/v1/reconciliations", json=window)
    assert clean.status_code == 201, clean.json
    # Earlier tests of this session left their own payments in localstripe: only this
    # advertiser's are ours to judge.
    ours = {credited["payment_intent_id"], refunded.json["stripe_refund_id"]}
    assert not [d for d in clean.json["differences"] if d.get("stripe_id") in ours]

    lost = start_top_up(api, 7_000_000)  # paid, but its webhook never arrived
    pay(stripe_server, lost["payment_intent_id"])
    _post(
        db,
        rules.top_up(advertiser["id"], Money("USD", 9_000_000), "pi_phantom", "top_phantom"),
        datetime.now(UTC),
    )
    found = finance.post("/v1/reconciliations", json=window).json["differences"]
    assert {
        "type": "missing_in_ledger",
        "stripe_id": lost["payment_intent_id"],
        "key": f"top-up:{lost['payment_intent_id']}",
        "stripe_micros": 7_000_000,
        "currency": "USD",
    } in found
    assert {
        "type": "missing_in_stripe",
        "key": "top-up:pi_phantom",
        "ledger_micros": 9_000_000,
        "currency": "USD",
    } in found
    listed = finance.get("/v1/reconciliations").json
    assert len(listed) == 2 and listed[0]["differences"] == found


def test_reconciliation_finds_a_refund_made_in_stripes_dashboard(
    client, admin, finance, stripe_server
):
    _, api = create_advertiser(admin, name="Refunded elsewhere", funds_micros=0)
    top_up = start_top_up(api, 20_000_000)
    pay(stripe_server, top_up["payment_intent_id"])
    deliver(
        client, stripe_event(stripe_server, "payment_intent.succeeded", top_up["payment_intent_id"])
    )
    # Not through the app: no metadata of ours, and no webhook tells the ledger.
    refund = stripe_client(stripe_server).v1.refunds.create(
        params={"payment_intent": top_up["payment_intent_id"], "amount": 500}
    )
    window = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    found = finance.post("/v1/reconciliations", json=window).json["differences"]
    assert {
        "type": "missing_in_ledger",
        "stripe_id": refund.id,
        "key": f"refund:{refund.id}",
        "stripe_micros": 5_000_000,
        "currency": "USD",
    } in found

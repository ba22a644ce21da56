"""Finance's ledger and reconciliation pages through the Flask client, on real postings."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from adsmanager.db.funding import Reconciliation
from adsmanager.services import ledger, reconciliation, spend_posting
from adsmanager.services.funding import make_gateway
from adsmanager.vocabulary import Role
from billing import ledger as rules
from billing.money import Money
from tests.factories import create_advertiser, credit
from tests.funding import pay, start_top_up
from tests.ledger_data import charge
from tests.web.test_finance_pages import make_user, text
from tests.web.test_sign_in import csrf_token, sign_in

FINANCE_EMAIL = "ledger-finance@example.com"
TWO_HOURS_AGO = datetime.now(UTC) - timedelta(hours=2)  # inside the nightly job's window


def post(db, entry, at: datetime | None = None) -> None:
    at = at or datetime.now(UTC)
    with db.transaction() as session:
        ledger.post(session, [entry], at, "tests", at)


@pytest.fixture
def books(admin, db):
    """Acme (USD): a 20.00 credit, a 50.00 top-up, 7.50 of spend; Globex (EUR): a 5.00 credit."""
    acme, acme_api = create_advertiser(admin, "Acme", funds_micros=0)
    credit(admin, acme["id"], 20_000_000)
    post(db, rules.top_up(acme["id"], Money("USD", 50_000_000), "pi_web_1", "top_web_1"))
    charge(db, acme["id"], 3_000_000, campaign_id="cmp_web")
    charge(db, acme["id"], 4_500_000, campaign_id="cmp_web")
    assert spend_posting.post_spend(db).micros == 7_500_000
    globex, _ = create_advertiser(admin, "Globex", currency="EUR", funds_micros=0)
    credit(admin, globex["id"], 5_000_000)
    return {"acme": acme, "acme_api": acme_api, "globex": globex}


@pytest.fixture
def as_finance(client, db):
    make_user(db, FINANCE_EMAIL, Role.FINANCE)
    sign_in(client, email=FINANCE_EMAIL)
    return client


def account_row(page: str, kind: str, owner: str, currency: str = "USD") -> str:
    """The accounts table's row of one account, its cells joined by " | "."""
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        cells = [html.unescape(c.strip()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if cells[1:3] == [kind, owner] and cells[3].endswith(currency):
            return " | ".join(cells)
    raise AssertionError(f"no {kind} account in {currency} of {owner}")


def entry_block(page: str, key: str) -> str:
    """The <tbody> of the entry with this key: its head and its postings."""
    match = re.search(
        rf'<tbody class="entry"[^>]*>(?:(?!</tbody>).)*?{re.escape(key)}.*?</tbody>', page, re.S
    )
    assert match, f"no entry {key}"
    return match.group(0)


def postings(block: str) -> list[tuple[str, ...]]:
    """(account kind, owner, out, in) of each posting of an entry block."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", block, re.S):
        cells = [html.unescape(c.strip()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows.append(tuple(cells))
    return rows


def next_link(page: str, label: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)">{label}</a>', page)
    return html.unescape(match.group(1)) if match else None


# --- the ledger -------------------------------------------------------------------------------


def test_finance_sees_the_check_the_balances_and_the_entries_with_their_postings(books, as_finance):
    response = as_finance.get("/finance/ledger")
    assert response.status_code == 200
    page = text(response)
    acme, globex = books["acme"]["id"], books["globex"]["id"]
    assert "<h1>Ledger</h1>" in page
    assert 'class="status balanced"' in page and "Balanced:" in page
    assert "0.00 EUR, 0.00 USD" in page  # every currency's postings sum to zero

    assert "62.50 USD" in account_row(page, "advertiser_balance", acme)  # 20 + 50 - 7.50
    assert "5.00 EUR" in account_row(page, "advertiser_balance", globex, "EUR")
    assert "7.50 USD" in account_row(page, "platform_revenue", "platform")
    assert "-50.00 USD" in account_row(page, "stripe_clearing", "platform")
    assert "-20.00 USD" in account_row(page, "platform_credits", "platform")
    assert "-5.00 EUR" in account_row(page, "platform_credits", "platform", "EUR")

    top_up = entry_block(page, "top-up:pi_web_1")
    assert "TOP_UP" in top_up and "Stripe payment pi_web_1" in top_up
    assert postings(top_up) == [
        ("stripe_clearing", "platform", "50.00 USD", ""),
        ("advertiser_balance", acme, "", "50.00 USD"),
    ]
    spend = entry_block(page, "spend:")
    assert "SPEND" in spend and "Campaign cmp_web" in spend
    assert postings(spend) == [
        ("advertiser_balance", acme, "7.50 USD", ""),
        ("platform_revenue", "platform", "", "7.50 USD"),
    ]
    # Money is never shown as a float of units or as raw micros.
    assert "7.5 USD" not in page and "7500000" not in page


def test_the_check_reports_an_unbalanced_ledger(books, as_finance, db, monkeypatch):
    real = ledger.check(db)
    broken = ledger.LedgerCheck(real.entries, {"USD": 1}, [42], [7])
    monkeypatch.setattr(ledger, "check", lambda database: broken)
    page = text(as_finance.get("/finance/ledger"))
    assert 'class="status unbalanced"' in page and "Not balanced" in page
    assert "Unbalanced entries</dt><dd>42" in page and "drifted</dt><dd>7" in page


def test_the_page_is_labelled_and_its_tables_scroll(books, as_finance):
    page = text(as_finance.get("/finance/ledger"))
    for label in ("account_kind", "owner_id", "kind", "advertiser_id"):
        assert f'<label for="{label}">' in page and f'id="{label}"' in page
    assert page.count('class="table-scroll" tabindex="0" role="region"') == 2
    assert "<caption" in page and "ledger.css" in page
    assert 'href="/finance/ledger" aria-current="page"' in page


def test_filters_narrow_the_accounts_and_the_entries(books, as_finance):
    acme, globex = books["acme"]["id"], books["globex"]["id"]
    by_kind = text(as_finance.get("/finance/ledger?account_kind=platform_revenue"))
    assert "7.50 USD" in account_row(by_kind, "platform_revenue", "platform")
    with pytest.raises(AssertionError):
        account_row(by_kind, "advertiser_balance", acme)
    assert 'value="platform_revenue" selected' in by_kind

    by_owner = text(as_finance.get(f"/finance/ledger?owner_id={globex}"))
    account_row(by_owner, "advertiser_balance", globex, "EUR")
    with pytest.raises(AssertionError):
        account_row(by_owner, "advertiser_balance", acme)

    top_ups = text(as_finance.get("/finance/ledger?kind=TOP_UP"))
    entry_block(top_ups, "top-up:pi_web_1")
    assert "spend:" not in top_ups and "credit:" not in top_ups
    assert 'value="TOP_UP" selected' in top_ups

    globex_only = text(as_finance.get(f"/finance/ledger?advertiser_id={globex}"))
    assert "MANUAL_CREDIT" in globex_only and "5.00 EUR" in globex_only
    assert "top-up:pi_web_1" not in globex_only

    nothing = text(as_finance.get(f"/finance/ledger?kind=REFUND&advertiser_id={acme}"))
    assert "No entry matches these filters." in nothing
    # Each filter form keeps the other list's filters.
    both = text(as_finance.get(f"/finance/ledger?kind=SPEND&owner_id={acme}"))
    assert '<input type="hidden" name="kind" value="SPEND">' in both
    assert f'<input type="hidden" name="owner_id" value="{acme}">' in both


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=NONSENSE", "Entry kind: Must be one of: TOP_UP, SPEND"),
        ("account_kind=advertiser", "Account kind: Must be one of: advertiser_balance"),
        ("owner_id=" + "x" * 65, "Owner: Length must be between 1 and 64."),
        ("advertiser_id=" + "x" * 41, "Advertiser: Length must be between 1 and 40."),
        ("page_token=not-a-token", "That page link is not valid any more"),
        ("accounts_page_token=bm9wZQ", "That page link is not valid any more"),
    ],
)
def test_a_bad_filter_or_page_token_is_a_400_page(books, as_finance, query, message):
    response = as_finance.get(f"/finance/ledger?{query}")
    assert response.status_code == 400
    assert "<h1>400</h1>" in text(response) and message in html.unescape(text(response))


def test_paging_through_accounts_and_entries(books, as_finance, monkeypatch):
    import adsmanager.web.ledger as pages

    monkeypatch.setattr(pages, "ENTRIES_PER_PAGE", 2)
    monkeypatch.setattr(pages, "ACCOUNTS_PER_PAGE", 4)
    seen_entries, seen_accounts = [], []
    url = "/finance/ledger?kind="
    while url:
        page = text(as_finance.get(url))
        seen_entries += re.findall(r'<tbody class="entry" id="entry-(\d+)"', page)
        url = next_link(page, "Next entries")
    assert len(seen_entries) == 4 == len(set(seen_entries))  # 2 credits, a top-up, a spend
    assert seen_entries == sorted(seen_entries, key=int, reverse=True)

    url = "/finance/ledger"
    while url:
        page = text(as_finance.get(url))
        seen_accounts += re.findall(r"<tr>\s*<td>(\d+)</td>", page)
        url = next_link(page, "Next accounts")
    # Acme's balance, revenue, clearing and credits in USD; Globex's balance and credits in EUR.
    assert len(seen_accounts) == 6 == len(set(seen_accounts))


def test_the_next_entries_link_keeps_the_filters(books, as_finance, monkeypatch):
    import adsmanager.web.ledger as pages

    monkeypatch.setattr(pages, "ENTRIES_PER_PAGE", 1)
    acme = books["acme"]["id"]
    first = text(
        as_finance.get(f"/finance/ledger?advertiser_id={acme}&account_kind=platform_revenue")
    )
    link = next_link(first, "Next entries")
    assert f"advertiser_id={acme}" in link and "account_kind=platform_revenue" in link
    assert link.endswith("#entries")


def test_strangers_sign_in_and_advertisers_get_404(books, client, db):
    for path in ("/finance/ledger", "/finance/reconciliation"):
        assert client.get(path).headers["Location"].startswith("/sign-in")
    make_user(db, "ann@example.com", Role.ADVERTISER, books["acme"]["id"])
    sign_in(client, email="ann@example.com")
    assert client.get("/finance/ledger").status_code == 404
    assert client.get("/finance/reconciliation").status_code == 404
    token = csrf_token(client, "/")
    assert client.post("/finance/reconciliation", data={"csrf_token": token}).status_code == 404


def test_an_admin_reads_the_ledger_and_reconciliations_as_the_api_allows(books, client, db):
    make_user(db, "root@example.com", Role.ADMIN)
    sign_in(client, email="root@example.com")
    assert "62.50 USD" in text(client.get("/finance/ledger"))
    assert client.get("/finance/reconciliation").status_code == 200


# --- reconciliation ---------------------------------------------------------------------------


def reconciliations(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Reconciliation))


def test_reconciling_without_a_csrf_token_is_refused(as_finance, db):
    response = as_finance.post("/finance/reconciliation")
    assert response.status_code == 400
    assert "did not come from this site" in text(response)
    assert reconciliations(db) == 0


def test_the_page_lists_runs_with_what_differed(app, admin, books, as_finance, stripe_server, db):
    lost = start_top_up(books["acme_api"], 7_000_000)  # paid, but never credited
    pay(stripe_server, lost["payment_intent_id"])
    gateway = make_gateway(app.extensions["adsmanager.settings"])
    run = reconciliation.reconcile(
        db, gateway, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    )

    page = text(as_finance.get("/finance/reconciliation"))
    assert "<h1>Reconciliation</h1>" in page
    assert f'href="#run-{run.id}"' in page and f'id="run-{run.id}"' in page
    differences = page.split(f'id="run-{run.id}"', 1)[1]
    assert "In Stripe, missing in the ledger" in differences
    assert lost["payment_intent_id"] in differences and "7.00 USD" in differences
    # The top-up posted by hand without a Stripe payment is in the ledger only.
    assert "In the ledger, missing in Stripe" in differences and "top-up:pi_web_1" in differences
    assert "50.00 USD" in differences


def test_reconcile_now_runs_the_jobs_window_and_shows_the_result(
    books, as_finance, stripe_server, db
):
    # localstripe starts empty with the test session, so the payments other tests left there
    # are younger than the window's end (an hour ago): only this test's data is judged.
    acme = books["acme"]["id"]
    paid = start_top_up(books["acme_api"], 25_000_000)
    pay(stripe_server, paid["payment_intent_id"])
    pi = paid["payment_intent_id"]
    # Credited two hours ago (inside the window): it matches Stripe's payment.
    post(db, rules.top_up(acme, Money("USD", 25_000_000), pi, paid["id"]), TWO_HOURS_AGO)
    post(db, rules.top_up(acme, Money("USD", 9_000_000), "pi_phantom", "top_x"), TWO_HOURS_AGO)

    page = text(as_finance.get("/finance/reconciliation"))
    assert "No reconciliation yet." in page
    assert '<button type="submit" aria-describedby="reconcile-hint">Reconcile now</button>' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = as_finance.post("/finance/reconciliation", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/finance/reconciliation"

    [run] = reconciliation.recent(db, 5)
    assert run.until - run.since == timedelta(days=1)
    assert timedelta(minutes=59) < datetime.now(UTC) - run.until < timedelta(minutes=61)
    assert run.ledger_entries == 2
    assert [d["key"] for d in run.differences] == ["top-up:pi_phantom"]

    page = text(as_finance.get("/finance/reconciliation"))
    assert f"Reconciliation {run.id}:" in page and "2 ledger entries, 1 difference(s)." in page
    differences = page.split(f'id="run-{run.id}"', 1)[1]
    assert "In the ledger, missing in Stripe" in differences
    assert "top-up:pi_phantom" in differences and "9.00 USD" in differences
    assert pi not in differences


def test_reconcile_now_with_everything_matched(books, as_finance, db):
    token = csrf_token(as_finance, "/finance/reconciliation")
    response = as_finance.post("/finance/reconciliation", data={"csrf_token": token})
    assert response.status_code == 302
    page = text(as_finance.get("/finance/reconciliation"))
    assert "0 ledger entries, everything matched." in page
    assert '<span class="balanced">Matched</span>' in page


def test_reconcile_now_without_stripe_shows_503(app, as_finance, db, monkeypatch):
    monkeypatch.setitem(app.extensions, "adsmanager.stripe", None)  # STRIPE_API_KEY not set
    token = csrf_token(as_finance, "/finance/reconciliation")
    response = as_finance.post("/finance/reconciliation", data={"csrf_token": token})
    assert response.status_code == 503
    page = text(response)
    assert "Payments are not set up here: STRIPE_API_KEY is not set." in page
    assert 'role="alert"' in page and "<h1>Reconciliation</h1>" in page
    assert reconciliations(db) == 0

"""The advertiser's account pages through the Flask client, signed in as a browser would be:
the dashboard, funding with Stripe (localstripe) and statements."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from adsmanager.services import funding, statements
from adsmanager.services.access import Actor
from adsmanager.vocabulary import Role, TopUpStatus
from tests.api.test_reports import delivered  # noqa: F401 (a fixture)
from tests.funding import deliver, pay, stripe_event
from tests.web.test_finance_pages import make_user, text
from tests.web.test_sign_in import csrf_token, sign_in

ANN = "ann@acme.example"
GUS = "gus@globex.example"


def actor_of(advertiser: dict) -> Actor:
    return Actor(id="tests", role=Role.ADVERTISER, advertiser_id=advertiser["id"])


@pytest.fixture
def as_ann(db, client, acme):
    make_user(db, ANN, Role.ADVERTISER, acme[0]["id"])
    sign_in(client, email=ANN)
    return client


def funding_form(client) -> dict:
    """The funding form's hidden fields, as the browser would post them back."""
    html = text(client.get("/funding"))
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
        "key": re.search(r'name="key" value="([^"]+)"', html).group(1),
    }


def top_ups(db, advertiser: dict) -> list:
    return funding.list_top_ups(
        db,
        actor_of(advertiser),
        advertiser_id=advertiser["id"],
        status=None,
        page_size=100,
        page_token=None,
    ).items


def today_in(advertiser: dict) -> str:
    return datetime.now(ZoneInfo(advertiser["timezone"])).date().isoformat()


# --- the dashboard --------------------------------------------------------------------------


@pytest.mark.usefixtures("delivered")
def test_the_dashboard_shows_the_real_balance_and_delivery(db, as_ann, acme):
    advertiser = acme[0]
    balance = funding.balance(db, actor_of(advertiser), advertiser["id"])
    # 10,000 USD of test funds, less Acme's 4 impressions at 100 micros (not posted yet).
    assert balance.available_micros == 10_000_000_000 - 400

    response = as_ann.get("/dashboard")
    assert response.status_code == 200
    html = text(response)
    assert "<h1>Dashboard</h1>" in html
    assert '<dd id="available-balance">9999.9996 USD</dd>' in html
    assert "<dt>Spend not yet posted</dt><dd>0.0004 USD</dd>" in html
    # The chart: an SVG image with a title and description, and the table behind it.
    assert html.count('<svg role="img"') == 3
    assert '<title id="chart-spend_micros-title">Spend per day' in html
    assert html.count('class="bar bar-spend_micros"') == 1
    today = re.search(
        rf"<th scope=\"row\">{today_in(advertiser)}</th>\s*"
        r'<td class="num">([^<]*)</td>\s*<td class="num">([^<]*)</td>\s*'
        r'<td class="num">([^<]*)</td>',
        html,
    )
    assert today and today.groups() == ("4", "1", "0.0004 USD")
    assert len(re.findall(r'<th scope="row">\d{4}-\d\d-\d\d</th>', html)) == 30


@pytest.mark.usefixtures("delivered")
def test_each_advertiser_sees_only_its_own(db, client, acme, globex):
    make_user(db, GUS, Role.ADVERTISER, globex[0]["id"])
    sign_in(client, email=GUS)
    html = text(client.get("/dashboard"))
    # Globex's CPC ad: one click at 0.25 EUR; Acme's numbers and currency appear nowhere.
    assert '<dd id="available-balance">9999.75 EUR</dd>' in html
    assert "Globex" in html and "Acme" not in html and "USD" not in html
    assert "0.0004" not in html
    assert "<title>" in html and "0.25 EUR</title>" in html


# --- funding --------------------------------------------------------------------------------


def test_the_funding_page_has_a_labelled_amount_and_lists_top_ups(as_ann, acme):
    html = text(as_ann.get("/funding"))
    assert "<h1>Funding</h1>" in html
    assert '<label for="f-amount">Amount</label>' in html
    assert "In USD, such as 50.00: at least 1.00 USD" in html
    assert 'aria-describedby="f-amount-hint"' in html
    assert "No top-up yet." in html and "<script" not in html


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0.50", "Must be between 1.00 USD and 1000000.00 USD."),  # the service's minimum
        ("10.005", "whole number of USD minor units (a multiple of 0.01 USD)"),  # half a cent
        ("ten", "Enter an amount in USD"),
        ("", "Enter an amount in USD"),
    ],
)
def test_a_refused_amount_is_shown_next_to_the_field_and_nothing_is_created(
    db, as_ann, acme, typed, message
):
    response = as_ann.post("/funding", data={**funding_form(as_ann), "amount": typed})
    assert response.status_code == 422
    html = text(response)
    error = re.search(r'<p class="error field-error" id="f-amount-error">([^<]*)</p>', html)
    assert error and message in error.group(1)
    assert 'aria-invalid="true"' in html and f'value="{typed}"' in html
    assert top_ups(db, acme[0]) == []


def test_a_valid_amount_creates_the_top_up_and_shows_the_card_step(db, as_ann, acme, stripe_server):
    form = funding_form(as_ann)
    response = as_ann.post("/funding", data={**form, "amount": "25.00"})
    assert response.status_code == 200
    html = text(response)
    [top_up] = top_ups(db, acme[0])
    assert top_up.amount_micros == 25_000_000 and top_up.status is TopUpStatus.PENDING
    assert "<h1>Pay 25.00 USD</h1>" in html and top_up.id in html
    assert f'data-client-secret="{top_up.payment_intent_id}_secret_' in html
    assert f'data-publishable-key="{stripe_server.publishable_key}"' in html
    assert f'<script src="{stripe_server.url}/js.stripe.com/v3/"></script>' in html
    assert "/assets/funding.js" in html
    assert f'data-done-url="/funding?paid={top_up.id}"' in html

    # The same form posted again (a reload) is the same top-up, not a second one.
    again = as_ann.post("/funding", data={**form, "amount": "25.00"})
    assert again.status_code == 200 and top_up.payment_intent_id in text(again)
    assert len(top_ups(db, acme[0])) == 1

    # Paid, then credited by Stripe's webhook: the only way the balance grows.
    pay(stripe_server, top_up.payment_intent_id)
    waiting = text(as_ann.get(f"/funding?paid={top_up.id}"))
    assert "Payment received for top-up" in waiting and "PENDING" in waiting
    event = stripe_event(stripe_server, "payment_intent.succeeded", top_up.payment_intent_id)
    assert deliver(as_ann, event).status_code == 200
    credited = text(as_ann.get(f"/funding?paid={top_up.id}"))
    assert "is paid and credited to the balance" in credited
    assert '<dd id="available-balance">10025.00 USD</dd>' in credited
    assert '<td class="status">SUCCEEDED</td>' in credited


def test_without_card_payments_configured_the_page_says_so(db, as_ann, acme, app):
    stripe = app.extensions.get("adsmanager.stripe", "absent")
    app.extensions["adsmanager.stripe"] = None  # as make_gateway answers without a key
    try:
        html = text(as_ann.get("/funding"))
        assert "Card payments are not configured here" in html
        assert 'name="amount"' not in html
        form = {"csrf_token": csrf_token(as_ann, "/funding"), "key": "k1", "amount": "25.00"}
        refused = as_ann.post("/funding", data=form)
        assert refused.status_code == 503
        assert top_ups(db, acme[0]) == []
    finally:
        if stripe == "absent":
            app.extensions.pop("adsmanager.stripe")
        else:
            app.extensions["adsmanager.stripe"] = stripe


def test_a_post_without_its_csrf_token_is_refused(db, as_ann, acme):
    form = funding_form(as_ann)
    response = as_ann.post("/funding", data={"key": form["key"], "amount": "25.00"})
    assert response.status_code == 400
    assert top_ups(db, acme[0]) == []


def test_a_post_without_its_key_is_refused(db, as_ann, acme):
    form = funding_form(as_ann)
    response = as_ann.post("/funding", data={"csrf_token": form["csrf_token"], "amount": "5"})
    assert response.status_code == 400
    assert top_ups(db, acme[0]) == []


# --- statements -----------------------------------------------------------------------------


def test_statements_list_the_months_and_download_the_services_csv(db, as_ann, acme):
    advertiser = acme[0]
    month = datetime.now(ZoneInfo(advertiser["timezone"])).strftime("%Y-%m")
    html = text(as_ann.get("/statements"))
    assert "<h1>Statements</h1>" in html
    assert f'<th scope="row">{month}</th>' in html
    assert "10000.00 USD" in html  # this month's credit, and the closing balance
    assert f'href="/statements/{month}.csv"' in html

    download = as_ann.get(f"/statements/{month}.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="statement-{month}.csv"'
    )
    expected = statements.to_csv(
        statements.monthly(db, actor_of(advertiser), advertiser["id"], month)
    )
    assert text(download) == expected
    assert f"{advertiser['id']},{month},USD,credits,,,10000000000,10000.000000" in expected


@pytest.mark.parametrize("month", ["2026-13", "26-01", "nonsense", "1969-12"])
def test_a_bad_month_is_a_400_page(as_ann, month):
    response = as_ann.get(f"/statements/{month}.csv")
    assert response.status_code == 400
    assert "months look like 2026-01" in text(response)


# --- who may see them -----------------------------------------------------------------------


PAGES = ("/dashboard", "/funding", "/statements", "/statements/2026-01.csv")


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ADMIN])
def test_finance_and_admin_users_get_404(db, client, role):
    make_user(db, "staff@example.com", role)
    sign_in(client, email="staff@example.com")
    for path in PAGES:
        assert client.get(path).status_code == 404, path
    token = csrf_token(client, "/")
    refused = client.post("/funding", data={"csrf_token": token, "key": "k", "amount": "5"})
    assert refused.status_code == 404


def test_strangers_go_to_sign_in(client):
    for path in PAGES:
        assert client.get(path).headers["Location"].startswith("/sign-in?next="), path

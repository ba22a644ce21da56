"""An advertiser adds funds in a real browser: sign in, open Funding, type an amount, pay on
the card step with Stripe.js (localstripe's stand-in, loaded from the test Stripe server and
completed there with the card confirmation Stripe.js makes: see tests/stripe_server.py), and
see the top-up credited once Stripe's webhook arrives (screenshots of each step are kept).
Nothing is done with the secret key on the test's side: the browser types the card, confirms
with the client secret and passes 3-D Secure.
"""

from __future__ import annotations

import re

import pytest

from adsmanager.services import funding
from adsmanager.vocabulary import Role, TopUpStatus
from tests.api.test_reports import delivered  # noqa: F401 (a fixture)
from tests.funding import deliver, stripe_client, stripe_event
from tests.web.test_account_pages import actor_of
from tests.web.test_finance_pages import PASSWORD, make_user

EMAIL = "ann.e2e@acme.example"
THREE_D_SECURE_CARD = "4000002500003155"  # Stripe's test card that asks for authentication
DECLINED_CARD = "4000000000000002"  # Stripe's test card that is declined


def sign_in_to(page, path: str) -> None:
    page.goto(path)
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def fill_card(page, number: str) -> None:
    """The stand-in's card element, mounted from the Stripe server's script."""
    from playwright.sync_api import expect

    card = page.locator("#card-element")
    expect(card).to_contain_text("localstripe")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("10001")


def test_an_advertiser_pays_a_top_up_with_stripe_js(db, app, acme, page, stripe_server, screenshot):
    from playwright.sync_api import expect

    advertiser = acme[0]
    make_user(db, EMAIL, Role.ADVERTISER, advertiser["id"])
    sign_in_to(page, "/funding")
    expect(page.get_by_role("heading", name="Funding")).to_be_visible()
    expect(page.locator("#available-balance")).to_have_text("10000.00 USD")
    screenshot(page, "funding")

    # A refused amount first: the message sits next to the field, nothing is created.
    page.get_by_label("Amount").fill("0.50")
    page.get_by_role("button", name="Continue to card payment").click()
    expect(page.locator("#f-amount-error")).to_contain_text("Must be between")
    expect(page.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "refused")

    page.get_by_label("Amount").fill("25.00")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Pay 25.00 USD")).to_be_visible()
    [top_up] = funding.list_top_ups(
        db, actor_of(advertiser), advertiser_id=None, status=None, page_size=10, page_token=None
    ).items
    expect(page.locator("#top-up-id")).to_have_text(top_up.id)
    fill_card(page, THREE_D_SECURE_CARD)
    screenshot(page, "card")

    page.get_by_role("button", name="Pay 25.00 USD").click()
    page.get_by_role("button", name="Complete authentication").click()  # the 3-D Secure step

    expect(page).to_have_url(re.compile(rf"/funding\?paid={top_up.id}$"))
    expect(page.locator("#paid-notice")).to_contain_text("The balance updates when Stripe")
    row = page.get_by_role("row").filter(has_text=top_up.id)
    expect(row).to_contain_text("PENDING")
    expect(page.locator("#available-balance")).to_have_text("10000.00 USD")
    screenshot(page, "paid")

    # Stripe's signed webhook is what credits the balance, as for the API's top-ups.
    event = stripe_event(stripe_server, "payment_intent.succeeded", top_up.payment_intent_id)
    assert deliver(app.test_client(), event).status_code == 200
    page.reload()
    expect(page.locator("#paid-notice")).to_contain_text("is paid and credited")
    expect(row).to_contain_text("SUCCEEDED")
    expect(page.locator("#available-balance")).to_have_text("10025.00 USD")
    screenshot(page, "credited")
    assert funding.get_top_up(db, actor_of(advertiser), top_up.id).status is (TopUpStatus.SUCCEEDED)


def test_a_failed_authentication_or_a_declined_card_is_shown_and_another_card_pays(
    db, acme, page, stripe_server, screenshot
):
    from playwright.sync_api import expect

    advertiser = acme[0]
    make_user(db, EMAIL, Role.ADVERTISER, advertiser["id"])
    sign_in_to(page, "/funding")
    page.get_by_label("Amount").fill("10")
    page.get_by_role("button", name="Continue to card payment").click()
    expect(page.get_by_role("heading", name="Pay 10.00 USD")).to_be_visible()
    [top_up] = funding.list_top_ups(
        db, actor_of(advertiser), advertiser_id=None, status=None, page_size=10, page_token=None
    ).items
    fill_card(page, THREE_D_SECURE_CARD)
    page.get_by_role("button", name="Pay 10.00 USD").click()
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#pay-error")).to_contain_text("Nothing was charged")
    expect(page.get_by_role("button", name="Pay 10.00 USD")).to_be_enabled()
    screenshot(page, "declined")

    # A card the bank declines: refused on the page; then a good card on the same intent.
    fill_card(page, DECLINED_CARD)
    page.get_by_role("button", name="Pay 10.00 USD").click()
    expect(page.locator("#pay-error")).to_contain_text("declined")
    fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Pay 10.00 USD").click()
    expect(page).to_have_url(re.compile(rf"/funding\?paid={top_up.id}$"))
    intent = stripe_client(stripe_server).v1.payment_intents.retrieve(top_up.payment_intent_id)
    assert intent.status == "succeeded" and intent.amount == 1000
    # Paid, not credited: only Stripe's signed webhook credits (see the test above).
    assert funding.balance(db, actor_of(advertiser), advertiser["id"]).available_micros == (
        10_000_000_000
    )


@pytest.mark.usefixtures("delivered")
def test_the_dashboard_chart_and_tables_fit_a_phone(db, acme, browser, live_server, screenshot):
    from playwright.sync_api import expect

    make_user(db, EMAIL, Role.ADVERTISER, acme[0]["id"])
    context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        sign_in_to(page, "/dashboard")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(page.get_by_role("img", name=re.compile("^Spend per day"))).to_be_visible()
        expect(page.locator("#delivery-totals")).to_contain_text("0.0004 USD")
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        # The day table scrolls in its own box, and the keyboard reaches it.
        page.locator(".table-scroll").focus()
        assert page.evaluate("document.activeElement.classList.contains('table-scroll')")
        screenshot(page, "phone")
    finally:
        context.close()

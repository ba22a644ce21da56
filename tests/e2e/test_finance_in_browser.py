"""Finance approves a payout run in a real browser: sign in through the form, open the runs,
open the DRAFT run, confirm, and see it APPROVED (screenshots of each page are kept)."""

from __future__ import annotations

import re

from adsmanager.services import payout_runs
from adsmanager.vocabulary import PayoutRunStatus, Role
from tests.web.test_finance_pages import DAY, PASSWORD, draft_run, make_user

EMAIL = "finance.e2e@example.com"


def test_finance_approves_a_payout_run_through_the_confirmation_step(db, page, screenshot):
    from playwright.sync_api import expect

    user = make_user(db, EMAIL, Role.FINANCE)
    run = draft_run(db)

    page.goto("/finance/payout-runs")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/finance/payout-runs$"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/finance/payout-runs$"))
    expect(page.get_by_role("heading", name="Payout runs")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=run.id)
    expect(row).to_contain_text(DAY.isoformat())
    expect(row).to_contain_text("DRAFT")
    expect(row).to_contain_text("100.00 USD")
    screenshot(page, "runs")

    row.get_by_role("link", name=run.id).click()
    expect(page.get_by_role("heading", name=f"Payout run {run.id}")).to_be_visible()
    expect(page.locator("#run-status")).to_have_text("DRAFT")
    expect(page.get_by_role("link", name="alice")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("Histogram and Lorenz curve"))
    expect(chart).to_be_visible()
    assert chart.evaluate("image => image.naturalWidth") > 0, "the chart image loads"
    screenshot(page, "detail")

    page.get_by_role("link", name="Approve…").click()
    expect(page.get_by_role("heading", name=f"Approve run {run.id}?")).to_be_visible()
    expect(page.get_by_text("100.00 USD to 2 creator(s)")).to_be_visible()
    screenshot(page, "confirmation")
    assert payout_runs.get(db, run.id).status is PayoutRunStatus.DRAFT

    page.get_by_role("button", name="Approve run").click()
    expect(page.get_by_role("status")).to_contain_text(f"Run {run.id} is approved")
    expect(page.locator("#run-status")).to_have_text("APPROVED")
    screenshot(page, "approved")
    approved = payout_runs.get(db, run.id)
    assert approved.status is PayoutRunStatus.APPROVED
    assert approved.approved_by == user.id


def test_the_runs_table_scrolls_inside_its_box_on_a_phone(db, browser, live_server, screenshot):
    from playwright.sync_api import expect

    make_user(db, EMAIL, Role.FINANCE)
    run = draft_run(db)
    context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        page.goto(f"/sign-in?next=/finance/payout-runs/{run.id}")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.locator("#run-status")).to_have_text("DRAFT")
        page.wait_for_load_state("load")  # the stylesheets too, before measuring
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= 375, "the page itself does not scroll sideways"
        box = page.locator(".table-scroll").last
        assert box.evaluate("el => el.scrollWidth > el.clientWidth"), "the table scrolls"
        screenshot(page, "phone")
    finally:
        context.close()

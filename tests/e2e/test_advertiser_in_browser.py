"""An advertiser builds a campaign in a real browser, and an admin approves its ad.

The advertiser signs in, creates a campaign, an ad group with targeting (a bid too large
for the budget first, refused next to the field, then fixed) and an ad; the REST API then
shows exactly those objects. An admin signs in and approves the ad from the review queue.
Another advertiser's user gets 404 on those pages. Screenshots of each step are kept.
"""

from __future__ import annotations

import re

from adsmanager.vocabulary import Role
from tests.web.test_finance_pages import PASSWORD, make_user

ADVERTISER_EMAIL = "maria@acme.example"
ADMIN_EMAIL = "reviewer@platform.example"


def sign_in(page, email: str) -> None:
    from playwright.sync_api import expect

    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_an_advertiser_builds_a_campaign_and_an_admin_approves_its_ad(
    db, page, acme, globex, screenshot
):
    from playwright.sync_api import expect

    advertiser, api = acme
    make_user(db, ADVERTISER_EMAIL, Role.ADVERTISER, advertiser["id"])
    make_user(db, ADMIN_EMAIL, Role.ADMIN)
    sign_in(page, ADVERTISER_EMAIL)

    # A campaign.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name", exact=True).fill("Spring running")
    page.get_by_label("Objective").select_option("TRAFFIC")
    page.get_by_label("Budget type").select_option("DAILY")
    page.get_by_label("Budget (USD)").fill("40.00")
    screenshot(page, "campaign-form")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("status")).to_contain_text("Campaign “Spring running” created.")
    expect(page.get_by_role("heading", name="Campaign “Spring running”")).to_be_visible()

    # An ad group with targeting, whose bid is larger than the campaign's daily budget.
    page.get_by_role("link", name="New ad group").click()
    page.get_by_label("Name", exact=True).fill("Runners, US and Canada")
    page.get_by_label("Pay for").select_option("CPC")
    page.get_by_label("Bid (USD)").fill("45.00")
    page.get_by_label("Countries").select_option(["US", "CA"])
    page.get_by_label("Languages").select_option(["en"])
    page.get_by_role("group", name="Ages").get_by_label("18-24").check()
    page.get_by_role("group", name="Ages").get_by_label("25-34").check()
    page.get_by_role("group", name="Devices").get_by_label("iOS").check()
    page.get_by_label("Interests").fill("running, fitness")
    page.get_by_label("Never next to these categories").fill("gambling")
    page.get_by_label("At most this many impressions per person").fill("3")
    page.get_by_label("In this many hours").fill("24")
    page.get_by_role("button", name="Create ad group").click()

    bid = page.get_by_label("Bid (USD)")
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(bid).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-bid-error")).to_contain_text("larger than the campaign's budget")
    expect(page.get_by_label("Countries")).to_have_values(["CA", "US"])  # kept as chosen
    screenshot(page, "bad-bid")
    assert api.get("/v1/ad-groups").json["items"] == []

    bid.fill("0.75")
    page.get_by_role("button", name="Create ad group").click()
    expect(page.get_by_role("status")).to_contain_text("Ad group “Runners, US and Canada” created.")
    expect(page.locator("#targeting-countries")).to_have_text("CA, US")

    # An ad.
    page.get_by_role("link", name="New ad").click()
    page.get_by_label("Name", exact=True).fill("Trail shoe")
    page.get_by_label("Video URL").fill("https://cdn.acme.example/trail.mp4")
    page.get_by_label("Caption").fill("Built for the trail.")
    page.get_by_label("Call to action").select_option("SHOP_NOW")
    page.get_by_label("Landing page URL").fill("https://acme.example/trail")
    page.get_by_label("Display name").fill("Acme Running")
    page.get_by_role("button", name="Create ad").click()
    expect(page.get_by_role("status")).to_contain_text("Ad “Trail shoe” created.")
    expect(page.locator("#review-status")).to_have_text("PENDING")
    screenshot(page, "ad")
    ad_url = page.url

    # The REST API sees what the browser made.
    campaign = api.get("/v1/campaigns").json["items"][0]
    assert (campaign["name"], campaign["budget_micros"]) == ("Spring running", 40_000_000)
    ad_group = api.get(f"/v1/ad-groups?campaign_id={campaign['id']}").json["items"][0]
    assert ad_group["bid_micros"] == 750_000 and ad_group["billing_event"] == "CPC"
    assert ad_group["targeting"]["countries"] == ["CA", "US"]  # in the list's order
    assert ad_group["targeting"]["age_groups"] == ["18-24", "25-34"]
    assert ad_group["targeting"]["os"] == ["ios"]
    assert ad_group["targeting"]["interests"] == ["running", "fitness"]
    assert ad_group["frequency_cap"] == {"max_impressions": 3, "window_hours": 24}
    ad = api.get(f"/v1/ads?ad_group_id={ad_group['id']}").json["items"][0]
    assert ad["name"] == "Trail shoe" and ad["review_status"] == "PENDING"
    assert ad_url.endswith(f"/ads/{ad['id']}")

    # An admin approves the ad from the review queue.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, ADMIN_EMAIL)
    page.goto("/admin/review")
    expect(page.get_by_role("heading", name="Ad review")).to_be_visible()
    pending = page.get_by_role("region", name="Trail shoe")
    expect(pending).to_contain_text("Built for the trail.")
    screenshot(page, "review-queue")
    pending.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Ad Trail shoe approved.")
    assert api.get(f"/v1/ads/{ad['id']}").json["review_status"] == "APPROVED"

    # Another advertiser's user finds none of it.
    globex_advertiser, _ = globex
    make_user(db, "buyer@globex.example", Role.ADVERTISER, globex_advertiser["id"])
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "buyer@globex.example")
    for kind, obj in (("campaigns", campaign), ("ad-groups", ad_group), ("ads", ad)):
        response = page.goto(f"/{kind}/{obj['id']}")
        assert response.status == 404, kind
    expect(page.get_by_role("heading", name=re.compile("404|not found", re.I))).to_be_visible()
    screenshot(page, "other-advertiser-404")


def test_the_ad_group_form_fits_a_phone_and_works_from_the_keyboard(
    db, browser, live_server, acme, screenshot
):
    from playwright.sync_api import expect

    from tests.factories import make_campaign

    advertiser, api = acme
    campaign = make_campaign(api, name="Phone")
    make_user(db, ADVERTISER_EMAIL, Role.ADVERTISER, advertiser["id"])
    context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        page.goto(f"/sign-in?next=/campaigns/{campaign['id']}/new")
        page.get_by_label("Email").fill(ADVERTISER_EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="New ad group")).to_be_visible()
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, "phone")

        # From the skip link to the form, then through it with Tab alone.
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        page.get_by_label("Name", exact=True).focus()
        page.keyboard.type("Keyboard group")
        page.keyboard.press("Tab")
        expect(page.get_by_label("Pay for")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_label("Bid (USD)")).to_be_focused()
        page.keyboard.type("1.25")
        page.keyboard.press("Enter")  # submits the form
        expect(page.get_by_role("status")).to_contain_text("Ad group “Keyboard group” created.")
    finally:
        context.close()
    assert api.get("/v1/ad-groups").json["items"][0]["bid_micros"] == 1_250_000

"""The advertiser's campaign, ad group and ad pages through the Flask client: forms validate
as the API does (errors next to fields, nothing saved), and one advertiser never sees
another's objects."""

from __future__ import annotations

import html as html_text
import re

import pytest

from adsmanager.services.errors import Conflict, InvalidInput
from adsmanager.vocabulary import Role
from tests.factories import count_rows, make_ad, make_ad_group, make_campaign
from tests.web.test_finance_pages import make_user, text
from tests.web.test_sign_in import csrf_token, sign_in

ACME_EMAIL = "buyer@acme.example"
GLOBEX_EMAIL = "buyer@globex.example"


@pytest.fixture
def as_acme(client, db, acme):
    advertiser, _ = acme
    make_user(db, ACME_EMAIL, Role.ADVERTISER, advertiser["id"])
    sign_in(client, email=ACME_EMAIL)
    return client


def post_form(client, path: str, form: dict, token_from: str | None = None):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from or path), **form})


def error_next_to(html: str, field: str) -> str:
    """The message shown under one field (its id is f-<field with dots as dashes>-error)."""
    field_id = "f-" + field.replace(".", "-")
    found = re.search(rf'<p class="error field-error" id="{field_id}-error">([^<]*)</p>', html)
    assert found, f"no error shown next to {field}"
    return html_text.unescape(found.group(1))


CAMPAIGN = {
    "name": "Winter sale",
    "objective": "TRAFFIC",
    "budget_mode": "DAILY",
    "budget": "50.00",
    "start_time": "2030-01-01T09:00",
    "end_time": "",
    "status": "ACTIVE",
}


def test_an_advertiser_creates_a_campaign_in_its_currency_and_time_zone(db, as_acme, acme):
    advertiser, api = acme  # Acme: USD, America/New_York (see tests/factories.py)
    created = post_form(as_acme, "/campaigns/new", CAMPAIGN)
    assert created.status_code == 303
    campaign_id = created.headers["Location"].rsplit("/", 1)[1]

    stored = api.get(f"/v1/campaigns/{campaign_id}").json
    assert stored["budget_micros"] == 50_000_000
    assert stored["start_time"].startswith("2030-01-01T14:00:00")  # 09:00 in New York is 14:00 UTC
    assert stored["end_time"] is None and stored["advertiser_id"] == advertiser["id"]

    page = text(as_acme.get(f"/campaigns/{campaign_id}"))
    assert "Winter sale" in page and "50.00 USD per day" in page
    assert "2030-01-01 09:00 (America/New_York)" in page
    assert "Winter sale" in text(as_acme.get("/campaigns"))


def test_bad_fields_are_shown_next_to_them_and_nothing_is_saved(db, as_acme):
    form = CAMPAIGN | {"name": " ", "budget": "12.3.4", "end_time": "2029-12-31T00:00"}
    response = post_form(as_acme, "/campaigns/new", form, token_from="/campaigns/new")
    assert response.status_code == 422
    html = text(response)
    assert "Must not be blank." in error_next_to(html, "name")
    assert "such as 12.50" in error_next_to(html, "budget")
    assert 'aria-invalid="true"' in html and 'role="alert"' in html
    assert 'value="12.3.4"' in html  # what was typed is kept
    assert count_rows(db, "campaigns") == 0

    # A rule of the service (the end before the start), with every typed value readable.
    response = post_form(as_acme, "/campaigns/new", CAMPAIGN | {"end_time": "2029-12-31T00:00"})
    assert response.status_code == 422
    assert "after start_time" in error_next_to(text(response), "end_time")
    assert count_rows(db, "campaigns") == 0


@pytest.mark.parametrize("typed", ["9999-12-31T23:30", "0001-01-01T00:10", "9000-01-01T09:00"])
def test_a_time_past_what_a_date_can_hold_is_an_error_next_to_it(db, as_acme, typed):
    response = post_form(as_acme, "/campaigns/new", CAMPAIGN | {"end_time": typed})
    assert response.status_code == 422
    assert "between 1970 and 9000" in error_next_to(text(response), "end_time") or (
        "1970-01-01 up to 9000-01-01" in error_next_to(text(response), "end_time")
    )
    assert count_rows(db, "campaigns") == 0


def test_a_stored_time_the_zone_cannot_show_is_shown_in_utc(db, as_acme, acme):
    """Stored before the API kept times in range: 0001-01-01 02:00 UTC is year 0 in New
    York, which Python cannot hold."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from adsmanager.db.models import Campaign

    campaign = make_campaign(acme[1])
    with db.transaction() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign["id"])
            .values(start_time=datetime(1, 1, 1, 2, tzinfo=UTC))
        )
    for path in (f"/campaigns/{campaign['id']}", f"/campaigns/{campaign['id']}/edit"):
        response = as_acme.get(path)
        assert response.status_code == 200, path
        assert "-01-01 02:00" in text(response) or "-01-01T02:00" in text(response)


def test_an_ad_group_with_targeting_a_bad_bid_fixed_and_the_api_sees_it(db, as_acme, acme):
    _, api = acme
    campaign = make_campaign(api, budget_micros=20_000_000)
    path = f"/campaigns/{campaign['id']}/new"
    form = {
        "name": "Runners in the US and Canada",
        "billing_event": "CPC",
        "bid": "25.00",  # more than the campaign's 20.00 budget: the service refuses it
        "budget_mode": "",
        "budget": "",
        "pacing": "STANDARD",
        "targeting.countries": ["US", "CA"],
        "targeting.languages": ["en"],
        "targeting.age_groups": ["18-24", "25-34"],
        "targeting.os": ["ios"],
        "targeting.interests": "running, fitness",
        "targeting.excluded_categories": "gambling",
        "targeting.excluded_creators": "",
        "frequency_cap.max_impressions": "3",
        "frequency_cap.window_hours": "24",
        "dayparting.0.days": ["SAT", "SUN"],
        "dayparting.0.start_hour": "8",
        "dayparting.0.end_hour": "20",
        "status": "ACTIVE",
    }
    refused = post_form(as_acme, path, form)
    assert refused.status_code == 422
    html = text(refused)
    assert error_next_to(html, "bid") == (
        "A CPC bid of 25.00 USD is larger than the campaign's budget of 20.00 USD."
    )
    assert count_rows(db, "ad_groups") == 0
    # The form comes back as it was filled in.
    assert '<option value="CA" selected>' in html and 'value="running, fitness"' in html
    assert re.search(r'name="dayparting.0.days" value="SAT" checked', html)

    created = post_form(as_acme, path, form | {"bid": "0.80"})
    assert created.status_code == 303
    ad_group_id = created.headers["Location"].rsplit("/", 1)[1]
    stored = api.get(f"/v1/ad-groups/{ad_group_id}").json
    assert stored["bid_micros"] == 800_000
    assert stored["targeting"]["countries"] == ["US", "CA"]
    assert stored["targeting"]["interests"] == ["running", "fitness"]
    assert stored["targeting"]["excluded_categories"] == ["gambling"]
    assert stored["frequency_cap"] == {"max_impressions": 3, "window_hours": 24}
    assert stored["dayparting"] == [{"days": ["SAT", "SUN"], "start_hour": 8, "end_hour": 20}]


def test_targeting_and_dayparting_errors_land_on_their_controls(db, as_acme, acme):
    _, api = acme
    campaign = make_campaign(api)
    path = f"/campaigns/{campaign['id']}/new"
    form = {"name": "Group", "billing_event": "CPM", "bid": "2.00", "pacing": "STANDARD"}
    # The schema's rules first, as the API applies them: a cap needs two whole numbers.
    bad_cap = {"frequency_cap.max_impressions": "0", "frequency_cap.window_hours": ""}
    response = post_form(as_acme, path, form | bad_cap)
    assert response.status_code == 422
    html = text(response)
    assert "greater than or equal to 1" in error_next_to(html, "frequency_cap.max_impressions")
    assert "Enter a whole number." in error_next_to(html, "frequency_cap.window_hours")

    # Then the service's: the meaning of targeting values and of hours.
    meaning = {
        "targeting.interests": "Not-A-Slug",
        "dayparting.0.days": [],
        "dayparting.1.days": ["MON"],  # the first row is empty: this one is window 0
        "dayparting.1.start_hour": "20",
        "dayparting.1.end_hour": "8",
    }
    response = post_form(as_acme, path, form | meaning)
    assert response.status_code == 422
    html = text(response)
    assert "is not a category slug" in error_next_to(html, "targeting.interests")
    assert "after start_hour" in error_next_to(html, "dayparting.0.end_hour")
    assert re.search(r'name="dayparting.0.days" value="MON" checked', html)
    assert count_rows(db, "ad_groups") == 0


def test_an_ad_is_created_edited_paused_and_archived(db, as_acme, acme):
    _, api = acme
    campaign = make_campaign(api)
    ad_group = make_ad_group(api, campaign["id"])
    ad_form = {
        "name": "Spring shoes",
        "creative.video_url": "https://cdn.example.com/v/1.mp4",
        "creative.video_id": "vid_1",  # both: the service wants exactly one
        "creative.caption": "New shoes\nfor spring",
        "creative.call_to_action": "SHOP_NOW",
        "creative.landing_url": "https://shop.example.com/spring",
        "creative.display_name": "Acme",
        "status": "ACTIVE",
    }
    path = f"/ad-groups/{ad_group['id']}/new"
    refused = post_form(as_acme, path, ad_form)
    assert refused.status_code == 422
    assert "exactly one" in error_next_to(text(refused), "creative.video_url")
    assert count_rows(db, "ads") == 0

    created = post_form(as_acme, path, ad_form | {"creative.video_id": ""})
    ad_id = created.headers["Location"].rsplit("/", 1)[1]
    ad = api.get(f"/v1/ads/{ad_id}").json
    assert ad["creative"]["caption"] == "New shoes\nfor spring"
    assert ad["review_status"] == "PENDING"

    edit = f"/ads/{ad_id}/edit"
    saved = post_form(as_acme, edit, ad_form | {"creative.video_id": "", "name": "Spring"})
    assert saved.status_code == 303 and api.get(f"/v1/ads/{ad_id}").json["name"] == "Spring"

    status_form = {"status": "PAUSED"}
    paused = post_form(as_acme, f"/ads/{ad_id}/status", status_form, token_from=f"/ads/{ad_id}")
    assert paused.status_code == 303 and api.get(f"/v1/ads/{ad_id}").json["status"] == "PAUSED"
    bad = post_form(as_acme, f"/ads/{ad_id}/status", {"status": "ARCHIVED"}, f"/ads/{ad_id}")
    assert bad.status_code == 400  # archiving goes through its own confirmation

    assert "Archive ad" in text(as_acme.get(f"/ads/{ad_id}/archive"))
    archived = post_form(as_acme, f"/ads/{ad_id}/archive", {})
    assert archived.status_code == 303 and api.get(f"/v1/ads/{ad_id}").json["status"] == "ARCHIVED"
    assert as_acme.get(edit).status_code == 409


def test_editing_a_campaign_keeps_what_was_not_changed(db, as_acme, acme):
    _, api = acme
    campaign = make_campaign(api, name="Before", budget_micros=10_000_000)
    edit = f"/campaigns/{campaign['id']}/edit"
    form = text(as_acme.get(edit))
    assert 'value="10"' in form and 'value="Before"' in form
    start = re.search(r'name="start_time" type="datetime-local" value="([^"]*)"', form).group(1)
    saved = post_form(as_acme, edit, {"name": "After", "budget": "12.5", "start_time": start})
    assert saved.status_code == 303
    stored = api.get(f"/v1/campaigns/{campaign['id']}").json
    assert (stored["name"], stored["budget_micros"]) == ("After", 12_500_000)
    assert stored["start_time"][:16] == campaign["start_time"][:16]  # minutes, as typed


def test_another_advertisers_objects_are_404_and_not_listed(db, client, acme, globex):
    _, acme_api = acme
    globex_advertiser, _ = globex
    campaign = make_campaign(acme_api, name="Acme only")
    ad_group = make_ad_group(acme_api, campaign["id"])
    ad = make_ad(acme_api, ad_group["id"])
    make_user(db, GLOBEX_EMAIL, Role.ADVERTISER, globex_advertiser["id"])
    sign_in(client, email=GLOBEX_EMAIL)

    assert "Acme only" not in text(client.get("/campaigns"))
    for path in (
        f"/campaigns/{campaign['id']}",
        f"/campaigns/{campaign['id']}/edit",
        f"/campaigns/{campaign['id']}/new",
        f"/campaigns/{campaign['id']}/archive",
        f"/ad-groups/{ad_group['id']}",
        f"/ad-groups/{ad_group['id']}/new",
        f"/ads/{ad['id']}",
        f"/ads/{ad['id']}/edit",
    ):
        assert client.get(path).status_code == 404, path
    token = csrf_token(client, "/campaigns")
    posted = client.post(f"/ads/{ad['id']}/status", data={"csrf_token": token, "status": "PAUSED"})
    assert posted.status_code == 404
    assert acme_api.get(f"/v1/ads/{ad['id']}").json["status"] == "ACTIVE"


def test_other_roles_and_strangers_do_not_get_the_advertiser_pages(db, client, tree):
    assert client.get("/campaigns").status_code == 302  # to the sign-in page
    make_user(db, "finance@example.com", Role.FINANCE)
    sign_in(client, email="finance@example.com")
    assert client.get("/campaigns").status_code == 404
    assert client.get(f"/campaigns/{tree['campaign']['id']}").status_code == 404


def test_a_form_without_its_csrf_token_is_refused(db, as_acme):
    response = as_acme.post("/campaigns/new", data=CAMPAIGN)
    assert response.status_code == 400
    assert count_rows(db, "campaigns") == 0


def test_saving_an_approved_ad_unchanged_keeps_it_approved(db, as_acme, acme, admin):
    _, api = acme
    campaign = make_campaign(api)
    ad_group = make_ad_group(api, campaign["id"])
    creative = {
        "video_url": "https://cdn.example.com/v/2.mp4",
        "caption": "\nLine one\nline two",
        "call_to_action": "SHOP_NOW",
        "landing_url": "https://shop.example.com/",
        "display_name": "Acme",
    }
    ad = make_ad(api, ad_group["id"], creative=creative)
    assert admin.post(f"/v1/ads/{ad['id']}/review", json={"decision": "APPROVE"}).status_code == 200

    edit = f"/ads/{ad['id']}/edit"
    html = text(as_acme.get(edit))
    shown = html_text.unescape(
        re.search(r'name="creative.caption"[^>]*>\n(.*?)</textarea>', html, re.S).group(1)
    )
    assert shown == creative["caption"]  # the leading line break survives the textarea
    # A browser posts what the form shows, with its line breaks as CRLF.
    form = {
        "name": "Renamed",
        "creative.video_url": creative["video_url"],
        "creative.video_id": "",
        "creative.caption": shown.replace("\n", "\r\n"),
        "creative.call_to_action": "SHOP_NOW",
        "creative.landing_url": creative["landing_url"],
        "creative.display_name": "Acme",
    }
    assert post_form(as_acme, edit, form).status_code == 303
    stored = api.get(f"/v1/ads/{ad['id']}").json
    assert stored["name"] == "Renamed" and stored["creative"]["caption"] == creative["caption"]
    assert stored["review_status"] == "APPROVED"


def test_saving_a_campaign_unchanged_keeps_its_seconds(db, as_acme, acme):
    _, api = acme
    campaign = make_campaign(
        api, start_time="2030-01-01T10:00:30Z", end_time="2030-01-01T10:00:50Z"
    )
    edit = f"/campaigns/{campaign['id']}/edit"
    html = text(as_acme.get(edit))
    typed = {
        name: re.search(rf'name="{name}" type="datetime-local" value="([^"]*)"', html).group(1)
        for name in ("start_time", "end_time")
    }
    saved = post_form(as_acme, edit, {"name": "Same times", "budget": "10", **typed})
    assert saved.status_code == 303
    stored = api.get(f"/v1/campaigns/{campaign['id']}").json
    assert stored["start_time"].startswith("2030-01-01T10:00:30")
    assert stored["end_time"].startswith("2030-01-01T10:00:50")


def test_an_ad_group_edit_leaves_untouched_targeting_as_it_was(db, as_acme, acme):
    _, api = acme
    campaign = make_campaign(api)
    targeting = {"countries": ["US", "CA"], "excluded_creators": ["Jane Doe"]}
    ad_group = make_ad_group(api, campaign["id"], targeting=targeting)
    edit = f"/ad-groups/{ad_group['id']}/edit"
    html = text(as_acme.get(edit))
    form = {
        "name": "Renamed",
        "bid": "1",
        "pacing": ad_group["pacing"],
        "targeting.countries": ["CA", "US"],  # as the picker posts them
        "targeting.excluded_creators": "Jane Doe",
    }
    assert 'value="Jane Doe"' in html
    assert post_form(as_acme, edit, form).status_code == 303
    stored = api.get(f"/v1/ad-groups/{ad_group['id']}").json
    assert stored["name"] == "Renamed"
    assert stored["targeting"]["countries"] == ["US", "CA"]
    assert stored["targeting"]["excluded_creators"] == ["Jane Doe"]


def test_odd_input_gets_a_page_never_a_500(db, as_acme, acme):
    _, api = acme
    campaign = make_campaign(api)
    new_group = f"/campaigns/{campaign['id']}/new"
    base = {"name": "G", "billing_event": "CPM", "bid": "1", "pacing": "STANDARD"}
    odd_rows = base | {"dayparting.1x.days": "MON", "dayparting.².days": "TUE"}
    assert post_form(as_acme, new_group, odd_rows).status_code == 303  # such fields are ignored
    huge = base | {
        "name": "H",
        "frequency_cap.max_impressions": "9" * 5000,
        "frequency_cap.window_hours": "1",
    }
    refused = post_form(as_acme, new_group, huge)
    assert refused.status_code == 422
    assert "too large" in error_next_to(text(refused), "frequency_cap.max_impressions")
    huge_bid = post_form(as_acme, new_group, base | {"bid": "9" * 5000})
    assert "too large" in error_next_to(text(huge_bid), "bid")

    stale = as_acme.get("/campaigns?page_token=zzz")
    assert stale.status_code == 400 and stale.mimetype == "text/html"
    assert "page link is not valid" in text(stale)


def test_a_time_the_clocks_skip_is_refused(db, as_acme):
    # 02:30 on 10 March 2030 does not exist in New York (clocks go from 02:00 to 03:00).
    form = CAMPAIGN | {"start_time": "2030-03-10T02:30"}
    refused = post_form(as_acme, "/campaigns/new", form)
    assert refused.status_code == 422
    assert "does not exist in America/New_York" in error_next_to(text(refused), "start_time")
    assert count_rows(db, "campaigns") == 0


@pytest.mark.parametrize(
    ("raised", "status", "shown"),
    [
        (RuntimeError("boom"), 500, "Something went wrong on our side"),
        (Conflict("archived", "Archived campaigns cannot be changed."), 409, "Archived campaigns"),
        (InvalidInput({"status": ["Not a status."]}), 400, "status: Not a status."),
    ],
)
def test_an_error_no_page_handles_is_a_page_not_api_json(
    db, as_acme, monkeypatch, raised, status, shown
):
    from adsmanager.services import advertisers

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(advertisers, "get", fail)
    monkeypatch.setattr(as_acme.application, "testing", False)  # errors are handled, not raised
    response = as_acme.get("/campaigns")
    assert response.status_code == status and response.mimetype == "text/html"
    assert shown in text(response)
    if status == 500:
        assert "Request id: <code>" in text(response)

"""Admins' pages through the Flask client, signed in as a browser would be: the ad review
queue, the CTR model registry and the fund rules. Each change is checked where it lands (the
service or the /v1 API), and each refusal by what did *not* change."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import update

from adsmanager.db.base import utcnow
from adsmanager.db.ctr_models import CtrModel
from adsmanager.services import ctr_models, fund_rules
from adsmanager.vocabulary import ModelStatus, Role
from tests.model_builders import register
from tests.web.test_finance_pages import make_user, text
from tests.web.test_sign_in import csrf_token, sign_in

ADMIN_EMAIL = "root@example.com"


@pytest.fixture
def as_admin(db, client):
    make_user(db, ADMIN_EMAIL, Role.ADMIN)
    sign_in(client, email=ADMIN_EMAIL)
    return client


def field_error(html: str, field_id: str) -> str | None:
    """The message shown next to a field, and only if the field points to it."""
    found = re.search(rf'<p class="error field-error" id="{field_id}-error">([^<]*)</p>', html)
    if found is None:
        return None
    control = re.search(rf'<(?:input|textarea|select) id="{field_id}"[^>]*>', html)
    assert control is not None and f"{field_id}-error" in control.group(0)
    assert 'aria-invalid="true"' in control.group(0)
    return found.group(1)


class _Controls(HTMLParser):
    """The values a browser would post for the form that holds ``name="note"``."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a["value"]
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def rules_form(client) -> dict[str, str]:
    html = text(client.get("/admin/fund-rules"))
    form = html[
        html.index('<form class="rules-form"') : html.index("</form>", html.index("rules-form"))
    ]
    parser = _Controls()
    parser.feed(form)
    return parser.values


def review_status(api, ad_id: str) -> tuple[str, str | None]:
    ad = api.get(f"/v1/ads/{ad_id}").json
    return ad["review_status"], ad["review_reason"]


# --- the review queue ---------------------------------------------------------------------------


def test_an_admin_sees_a_pending_ad_and_approves_it(tree, as_admin):
    ad, api = tree["ad"], tree["api"]
    page = as_admin.get("/admin/review")
    assert page.status_code == 200
    html = text(page)
    assert "<h1>Ad review</h1>" in html
    assert re.search(rf'<section [^>]*aria-labelledby="ad-{ad["id"]}-name">', html)
    assert f'<h2 id="ad-{ad["id"]}-name">Spot 1</h2>' in html
    assert "Acme" in html and tree["campaign"]["id"] in html and tree["ad_group"]["id"] in html
    assert "Spring is here" in html and "SHOP_NOW" in html
    landing = '<a href="https://shop.example.com/spring" rel="noopener noreferrer">'
    assert landing in html and "https://cdn.example.com/v/1.mp4" in html
    assert f'<label for="reason-{ad["id"]}">Reason for rejecting</label>' in html
    assert '<button type="submit">Approve</button>' in html
    assert '<button type="submit" class="danger">Reject</button>' in html
    assert "<script" not in html and "admin.css" in html

    token = csrf_token(as_admin, "/admin/review")
    response = as_admin.post(
        f"/admin/review/{ad['id']}", data={"csrf_token": token, "decision": "APPROVE"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/review"
    assert review_status(api, ad["id"]) == ("APPROVED", None)
    after = text(as_admin.get("/admin/review"))
    assert "Ad Spot 1 approved." in after and 'role="status"' in after
    assert f"ad-{ad['id']}-name" not in after and "No ad is waiting for review." in after


def test_rejecting_needs_a_reason_shown_next_to_that_ads_field(tree, as_admin):
    ad, api = tree["ad"], tree["api"]
    token = csrf_token(as_admin, "/admin/review")
    for reason in ("", "   "):
        refused = as_admin.post(
            f"/admin/review/{ad['id']}",
            data={"csrf_token": token, "decision": "REJECT", "reason": reason},
        )
        assert refused.status_code == 422
        message = field_error(text(refused), f"reason-{ad['id']}")
        assert message == "A rejection needs a reason the advertiser can act on."
        assert review_status(api, ad["id"]) == ("PENDING", None)

    rejected = as_admin.post(
        f"/admin/review/{ad['id']}",
        data={"csrf_token": token, "decision": "REJECT", "reason": " Caption promises too much "},
    )
    assert rejected.status_code == 303
    assert review_status(api, ad["id"]) == ("REJECTED", "Caption promises too much")
    assert "Ad Spot 1 rejected." in text(as_admin.get("/admin/review"))


def test_a_decision_the_api_would_refuse_is_refused_here_too(tree, as_admin):
    ad = tree["ad"]
    token = csrf_token(as_admin, "/admin/review")
    response = as_admin.post(
        f"/admin/review/{ad['id']}", data={"csrf_token": token, "decision": "MAYBE"}
    )
    assert response.status_code == 422
    assert "decision: " in text(response)  # the schema's message, for the ad's form
    assert review_status(tree["api"], ad["id"])[0] == "PENDING"
    missing = as_admin.post(
        "/admin/review/ad_nope", data={"csrf_token": token, "decision": "APPROVE"}
    )
    assert missing.status_code == 404


def test_reviewing_an_archived_ad_is_a_conflict_shown_on_the_page(tree, as_admin):
    ad, api = tree["ad"], tree["api"]
    token = csrf_token(as_admin, "/admin/review")
    assert api.post(f"/v1/ads/{ad['id']}/archive").status_code == 200
    response = as_admin.post(
        f"/admin/review/{ad['id']}", data={"csrf_token": token, "decision": "APPROVE"}
    )
    assert response.status_code == 409
    assert "Archived ads cannot be changed." in text(response)
    assert review_status(api, ad["id"])[0] == "PENDING"


def test_an_approval_is_refused_when_the_creative_changed_after_the_page_showed_it(tree, as_admin):
    ad, api = tree["ad"], tree["api"]
    page = text(as_admin.get("/admin/review"))
    shown = re.search(r'name="creative_version" value="([0-9a-f]+)"', page).group(1)
    token = csrf_token(as_admin, "/admin/review")
    api.patch(f"/v1/ads/{ad['id']}", json={"creative": {"caption": "Something else"}})
    response = as_admin.post(
        f"/admin/review/{ad['id']}",
        data={"csrf_token": token, "decision": "APPROVE", "creative_version": shown},
    )
    assert response.status_code == 409
    assert "The creative changed after you looked at it" in text(response)
    assert review_status(api, ad["id"])[0] == "PENDING"


def test_a_post_without_its_csrf_token_is_refused(tree, as_admin):
    ad = tree["ad"]
    response = as_admin.post(f"/admin/review/{ad['id']}", data={"decision": "APPROVE"})
    assert response.status_code == 400
    assert review_status(tree["api"], ad["id"])[0] == "PENDING"
    model = register(as_admin.application.extensions["adsmanager.db"])
    assert as_admin.post(f"/admin/models/{model.id}/activate").status_code == 400
    assert as_admin.post("/admin/fund-rules", data={"min_age": "21"}).status_code == 400
    assert ctr_models.get(as_admin.application.extensions["adsmanager.db"], model.id).status is (
        ModelStatus.CANDIDATE
    )


# --- who may see the pages ----------------------------------------------------------------------


def test_other_roles_get_404_and_strangers_go_to_sign_in(db, client, tree):
    model = register(db)
    ad_id = tree["ad"]["id"]
    pages = (
        "/admin/review",
        "/admin/models",
        f"/admin/models/{model.id}",
        f"/admin/models/{model.id}/reliability.png",
        f"/admin/models/{model.id}/activate",
    )
    for path in (*pages, "/admin/fund-rules"):
        assert client.get(path).headers["Location"].startswith("/sign-in"), path

    make_user(db, "ann@example.com", Role.ADVERTISER, tree["advertiser"]["id"])
    make_user(db, "fin@example.com", Role.FINANCE)
    for email in ("ann@example.com", "fin@example.com"):
        sign_in(client, email=email)
        token = csrf_token(client, "/")
        for path in pages:
            assert client.get(path).status_code == 404, (email, path)
        posts = (
            (f"/admin/review/{ad_id}", {"decision": "APPROVE"}),
            (f"/admin/models/{model.id}/activate", {}),
            ("/admin/fund-rules", {"min_age": "21"}),
        )
        for path, form in posts:
            assert client.post(path, data={"csrf_token": token, **form}).status_code == 404
        client.post("/sign-out", data={"csrf_token": token})
    assert review_status(tree["api"], ad_id)[0] == "PENDING"
    assert ctr_models.get(db, model.id).status is ModelStatus.CANDIDATE
    assert fund_rules.current(db, utcnow()).version == 1

    # As GET /v1/fund/rules: finance reads the rules, advertisers do not; only admins change.
    sign_in(client, email="fin@example.com")
    page = client.get("/admin/fund-rules")
    assert page.status_code == 200 and "Version 1" in text(page)
    assert "Make a new version" not in text(page) and 'name="min_age"' not in text(page)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, email="ann@example.com")
    assert client.get("/admin/fund-rules").status_code == 404
    assert client.get("/admin/fund-rules/versions/1").status_code == 404


# --- CTR models ---------------------------------------------------------------------------------


def test_models_list_detail_diagram_and_activation(db, as_admin):
    first, second = register(db, seed=1), register(db, seed=2)
    listing = text(as_admin.get("/admin/models"))
    assert "<h1>CTR models</h1>" in listing and "No model is active" in listing
    assert f'href="/admin/models/{first.id}">{first.version}</a>' in listing
    assert f"{first.metrics['model']['auc']:.4f}" in listing
    assert f"{second.metrics['model']['log_loss']:.5f}" in listing
    assert "Normalized entropy" in listing and "Calibration ratio" in listing

    detail = as_admin.get(f"/admin/models/{first.id}")
    assert detail.status_code == 200
    html = text(detail)
    assert f"Model {first.version}" in html and "Held-out evaluation" in html
    assert "No model was active when this one was trained" in html
    assert f'src="/admin/models/{first.id}/reliability.png"' in html
    assert 'alt="Reliability diagram of model' in html
    assert f'href="/admin/models/{first.id}/activate">Activate…</a>' in html
    diagram = as_admin.get(f"/admin/models/{first.id}/reliability.png")
    assert diagram.status_code == 200 and diagram.mimetype == "image/png"
    assert diagram.data.startswith(b"\x89PNG\r\n\x1a\n")

    confirm = as_admin.get(f"/admin/models/{first.id}/activate")
    assert confirm.status_code == 200
    assert '<button type="submit">Activate model</button>' in text(confirm)
    assert ctr_models.get(db, first.id).status is ModelStatus.CANDIDATE  # asking changes nothing
    token = csrf_token(as_admin, f"/admin/models/{first.id}/activate")
    done = as_admin.post(f"/admin/models/{first.id}/activate", data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"] == f"/admin/models/{first.id}"
    activated = ctr_models.get(db, first.id)
    assert activated.status is ModelStatus.ACTIVE and activated.activated_by is not None
    after = text(as_admin.get(f"/admin/models/{first.id}"))
    assert f"Model {first.version} is active" in after and "This model is serving." in after
    assert "active (serving)" in text(as_admin.get("/admin/models"))

    as_admin.post(f"/admin/models/{second.id}/activate", data={"csrf_token": token})
    assert ctr_models.get(db, second.id).status is ModelStatus.ACTIVE
    assert ctr_models.get(db, first.id).status is ModelStatus.RETIRED
    assert as_admin.get("/admin/models/mdl_nope").status_code == 404
    assert as_admin.get("/admin/models/mdl_nope/reliability.png").status_code == 404


def test_a_model_that_cannot_load_is_refused_on_the_page(db, as_admin):
    good, broken = register(db, seed=1), register(db, seed=2)
    ctr_models.activate(db, good.id, by="test")
    with db.transaction() as session:
        session.execute(
            update(CtrModel)
            .where(CtrModel.id == broken.id)
            .values(artifact=broken.artifact.replace(broken.feature_spec_hash, "0" * 64))
        )
    token = csrf_token(as_admin, f"/admin/models/{broken.id}/activate")
    refused = as_admin.post(f"/admin/models/{broken.id}/activate", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "This model cannot serve" in text(refused) and 'role="alert"' in text(refused)
    assert ctr_models.get(db, broken.id).status is ModelStatus.CANDIDATE
    assert ctr_models.get(db, good.id).status is ModelStatus.ACTIVE


# --- fund rules ---------------------------------------------------------------------------------


def test_the_rules_form_is_prefilled_and_saves_a_new_version(db, as_admin):
    form = rules_form(as_admin)
    assert form["minimum_payout"] == "10" and form["cap"] == ""  # the defaults, in dollars
    assert form["pool_mode"] == "REVENUE_SHARE" and form["currency"] == "USD"
    assert form["countries"].startswith("AU, BR, CA")
    page = text(as_admin.get("/admin/fund-rules"))
    assert '<label for="f-minimum_payout">Minimum payout (USD)</label>' in page
    assert '<label for="f-pool_mode">Pool</label>' in page

    form.update(
        pool_mode="FIXED",
        fixed_pool_per_day="1,250.50",
        minimum_payout="25.00",
        cap="500",
        countries="US GB, DE",
        note="Fixed pool for the launch",
    )
    saved = as_admin.post("/admin/fund-rules", data=form)
    assert saved.status_code == 303 and saved.headers["Location"] == "/admin/fund-rules"
    current = fund_rules.current(db, utcnow())
    assert current.version == 2 and current.note == "Fixed pool for the launch"
    rules = current.rules
    assert rules.pool_mode == "FIXED" and rules.fixed_pool_micros_per_day == 1_250_500_000
    assert rules.minimum_payout_micros == 25_000_000 and rules.cap_micros == 500_000_000
    assert rules.countries == ("DE", "GB", "US") and rules.min_age == 18

    html = text(as_admin.get("/admin/fund-rules"))
    assert "Fund rules version 2 saved." in html and "In force: version 2" in html
    assert "Minimum payout: 10.00 USD → 25.00 USD" in html
    assert rules_form(as_admin)["cap"] == "500"
    version_one = as_admin.get("/admin/fund-rules/versions/1")
    assert version_one.status_code == 200 and "10.00 USD" in text(version_one)
    assert as_admin.get("/admin/fund-rules/versions/9").status_code == 404


def test_two_admins_changing_different_rules_both_keep_their_change(db, as_admin):
    first, second = rules_form(as_admin), rules_form(as_admin)  # both filled from version 1
    saved = as_admin.post("/admin/fund-rules", data=first | {"minimum_payout": "25"})
    assert saved.status_code == 303
    saved = as_admin.post("/admin/fund-rules", data=second | {"cap": "300"})
    assert saved.status_code == 303
    current = fund_rules.current(db, utcnow())
    assert current.version == 3
    assert current.rules.minimum_payout_micros == 25_000_000  # not undone by the second form
    assert current.rules.cap_micros == 300_000_000
    tampered = as_admin.post("/admin/fund-rules", data=first | {"based_on": "x"})
    assert tampered.status_code == 400


@pytest.mark.parametrize(
    ("field", "typed", "expected"),
    [
        ("minimum_payout", "-5", "Enter an amount in USD, such as 12.50."),
        ("cap", "0.005", "cap_micros must be a whole number of USD steps"),
        ("pool_mode", "WEEKLY", "Must be one of: FIXED, REVENUE_SHARE."),
        ("min_age", "12", "Must be greater than or equal to 13"),
        ("trailing_days", "ten", "Enter a whole number."),
        ("countries", "US, XX", "Must be one of"),
    ],
)
def test_a_bad_rule_is_shown_next_to_its_field_and_nothing_is_saved(
    db, as_admin, field, typed, expected
):
    form = rules_form(as_admin)
    form[field] = typed
    refused = as_admin.post("/admin/fund-rules", data=form)
    assert refused.status_code == 422
    html = text(refused)
    message = field_error(html, f"f-{field}")
    assert message is not None and expected in message, message
    assert "Nothing was saved" in html
    assert f'value="{typed}"' in html or field == "pool_mode"  # what was typed stays
    assert fund_rules.current(db, utcnow()).version == 1


def test_a_version_number_too_large_for_the_database_is_404_not_500(db, as_admin):
    assert as_admin.get("/admin/fund-rules/versions/99999999999999999999").status_code == 404

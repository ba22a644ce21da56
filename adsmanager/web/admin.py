"""Admins' pages: the ad review queue, CTR models, fund rules.

Each page calls the same service as its /v1 twin (``/v1/ads/<id>/review``, ``/v1/models``,
``/v1/fund/rules``), with the same roles, and a posted form is loaded with that route's
marshmallow schema first, so a page accepts and refuses exactly what the API does. Errors
are shown next to their fields (422) and nothing is saved; a service's refusal (a 409) is
shown on the page with its status, never a 500.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from adsmanager.api.ads.schemas import AdReviewSchema
from adsmanager.api.fund_rules.schemas import RulesChangeSchema
from adsmanager.db.base import utcnow
from adsmanager.services import ads, advertisers, ctr_models, model_reports
from adsmanager.services import fund_rules as programme
from adsmanager.services.errors import Conflict, InvalidInput
from adsmanager.services.pagination import DEFAULT_PAGE_SIZE
from adsmanager.services.reference import currency_codes
from adsmanager.vocabulary import ModelStatus, ReviewStatus, Role
from adsmanager.web import _db, forms
from adsmanager.web import bp as web
from adsmanager.web.auth import signed_in
from adsmanager.web.forms import Collected, Invalid
from billing.fund_rules import PPM, PoolMode, Rules
from billing.money import Money, format_amount

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = DEFAULT_PAGE_SIZE
RULES_READERS = (Role.ADMIN, Role.FINANCE)  # as in adsmanager.api.fund_rules: only admins change


def _page_token() -> str | None:
    return request.values.get("page_token") or None


def _bad_page_link():
    abort(400, "That page link is not valid any more; start from the first page.")


# --- the ad review queue ----------------------------------------------------------------------


@bp.get("/review")
@signed_in(Role.ADMIN)
def review_queue():
    return _queue_page()


def _queue_page(
    errors: dict[str, forms.Errors] | None = None, reasons: dict[str, str] | None = None
):
    """The pending ads, oldest first (the API's review queue), with one ad's form errors and
    typed reason when a review was refused."""
    try:
        page = ads.list_ads(
            _db(),
            g.user.actor,
            advertiser_id=None,
            campaign_id=None,
            ad_group_id=None,
            status=None,
            review_status=ReviewStatus.PENDING,
            page_size=PER_PAGE,
            page_token=_page_token(),
        )
    except InvalidInput:
        _bad_page_link()
    names: dict[str, str] = {}
    for ad in page.items:  # one look-up per advertiser, not per ad
        if ad.advertiser_id not in names:
            names[ad.advertiser_id] = advertisers.get(_db(), g.user.actor, ad.advertiser_id).name
    return render_template(
        "admin/review.html",
        page=page,
        advertiser_names=names,
        errors=errors or {},
        reasons=reasons or {},
        page_token=_page_token(),
    )


@bp.post("/review/<ad_id>")
@signed_in(Role.ADMIN)
def review(ad_id: str):
    """Approve or reject one ad exactly as ``POST /v1/ads/<id>/review`` does (a rejection
    needs a reason: the service says so, next to that ad's reason field)."""
    data = {
        "decision": request.form.get("decision", ""),
        "reason": request.form.get("reason"),
        # The page shows one version of the creative: the decision is about that one.
        "creative_version": request.form.get("creative_version") or None,
    }
    try:
        loaded = forms.load(AdReviewSchema(), data)
        with forms.service_errors():
            reviewed = ads.review(
                _db(),
                g.user.actor,
                ad_id,
                loaded["decision"],
                loaded["reason"],
                creative_version=loaded["creative_version"],
            )
    except Invalid as invalid:
        shown = forms.placed(invalid.errors, ("reason",))
        return _queue_page({ad_id: shown}, {ad_id: data["reason"] or ""}), 422
    except Conflict as conflict:
        return _queue_page({ad_id: {"": [conflict.message]}}), 409
    verb = "approved" if reviewed.review_status is ReviewStatus.APPROVED else "rejected"
    flash(f"Ad {reviewed.name} {verb}.")
    return redirect(url_for(".review_queue", page_token=_page_token()), 303)


# --- CTR models ---------------------------------------------------------------------------------


@bp.get("/models")
@signed_in(Role.ADMIN)
def models():
    try:
        page = ctr_models.list_models(_db(), page_size=PER_PAGE, page_token=_page_token())
    except InvalidInput:
        _bad_page_link()
    return render_template("admin/models.html", page=page, active=ctr_models.active(_db()))


@bp.get("/models/<model_id>")
@signed_in(Role.ADMIN)
def model(model_id: str):
    record = ctr_models.get(_db(), model_id)
    return render_template(
        "admin/model.html",
        model=record,
        staleness=model_reports.staleness_seconds(record),
        active=ctr_models.active(_db()),
    )


@bp.get("/models/<model_id>/reliability.png")
@signed_in(Role.ADMIN)
def reliability(model_id: str):
    """The diagram ``GET /v1/models/<id>/reliability.png`` serves, drawn by the same code."""
    png = model_reports.reliability_png(ctr_models.get(_db(), model_id))
    return Response(png, mimetype="image/png")


@bp.route("/models/<model_id>/activate", methods=["GET", "POST"])
@signed_in(Role.ADMIN)
def activate(model_id: str):
    """Asks first (activating changes what every auction uses within seconds), then calls
    the service; its refusal (the model cannot load, a concurrent activation) is shown here."""
    record = ctr_models.get(_db(), model_id)
    if request.method == "GET":
        return _activation_page(record)
    try:
        activated = ctr_models.activate(_db(), model_id, by=g.user.actor.id)
    except Conflict as conflict:
        return _activation_page(ctr_models.get(_db(), model_id), conflict.message, 409)
    flash(f"Model {activated.version} is active: auctions use it within seconds.")
    return redirect(url_for(".model", model_id=model_id), 303)


def _activation_page(record, error: str | None = None, status: int = 200):
    page = render_template(
        "admin/activate.html", model=record, active=ctr_models.active(_db()), error=error
    )
    return page, status


# --- fund rules ---------------------------------------------------------------------------------

# Form field → the rule it sets; amounts are typed in currency units, the rest as numbers.
AMOUNT_FIELDS = {
    "fixed_pool_per_day": "fixed_pool_micros_per_day",
    "minimum_payout": "minimum_payout_micros",
    "cap": "cap_micros",
}
NUMBER_FIELDS = (
    "revenue_share_ppm",
    "min_age",
    "min_followers",
    "min_trailing_qualified_views",
    "trailing_days",
    "views_per_interaction",
    "max_bonus_percent",
)
TEXT_FIELDS = ("currency", "pool_mode", "countries")
RULE_FIELDS = {
    **{rule: field for field, rule in AMOUNT_FIELDS.items()},
    **{name: name for name in (*NUMBER_FIELDS, *TEXT_FIELDS)},
}
# API paths → form fields, for the schema's and the service's errors.
NAMES = {f"rules.{rule}": field for rule, field in RULE_FIELDS.items()} | {"note": "note"}
SHOWN = (*RULE_FIELDS.values(), "note")
LABELS = {
    "currency": "Currency",
    "pool_mode": "Pool",
    "fixed_pool_micros_per_day": "Fixed pool per day",
    "revenue_share_ppm": "Revenue share (parts per million)",
    "min_age": "Minimum age",
    "min_followers": "Minimum followers",
    "min_trailing_qualified_views": "Minimum qualified views in the trailing window",
    "trailing_days": "Trailing window (days)",
    "countries": "Countries",
    "minimum_payout_micros": "Minimum payout",
    "cap_micros": "Cap per creator per run",
    "views_per_interaction": "Qualified views per like, comment or share",
    "max_bonus_percent": "Maximum engagement bonus (% of qualified views)",
}
MAX_VERSION = 2**31 - 1
POOL_MODES = {
    PoolMode.REVENUE_SHARE.value: "A share of the period's ad revenue",
    PoolMode.FIXED.value: "A fixed amount per day",
}


@bp.get("/fund-rules")
@signed_in(*RULES_READERS)
def fund_rules():
    current = programme.current(_db(), utcnow())
    return _rules_page(_values(current.rules.to_dict(), current.version))


@bp.get("/fund-rules/versions/<int:version>")
@signed_in(*RULES_READERS)
def fund_rules_version(version: int):
    if version > MAX_VERSION:  # as the API: no such version, rather than a database error
        abort(404)
    found = programme.get(_db(), version)
    return render_template(
        "admin/fund_rules_version.html", found=found, described=_described(found.rules)
    )


@bp.post("/fund-rules")
@signed_in(Role.ADMIN)
def change_fund_rules():
    """A new version, validated as ``POST /v1/fund/rules`` validates it: the form becomes the
    body that route takes, its schema loads it, and the same service checks and saves it."""
    form = {name: request.form.get(name, "") for name in SHOWN}
    form["based_on"] = request.form.get("based_on", "")
    shown = _shown_rules(form["based_on"])
    current = programme.current(_db(), utcnow()).rules
    currency = form["currency"] if form["currency"] in currency_codes() else current.currency
    typed = Collected()
    rules: dict[str, Any] = {
        rule: typed.amount(field, form[field], currency, optional=field == "cap")
        for field, rule in AMOUNT_FIELDS.items()
    }
    rules |= {name: typed.integer(name, form[name]) for name in NUMBER_FIELDS}
    rules |= {"currency": form["currency"], "pool_mode": form["pool_mode"]}
    rules["countries"] = [code for code in re.split(r"[\s,]+", form["countries"]) if code]
    # A field typed wrongly is None here: the schema refuses it, and ``typed``'s message wins.
    body = {"rules": rules, "note": form["note"].strip() or None}
    try:
        loaded = typed.load(RulesChangeSchema(), body, NAMES)
        changes = _changed_rules(loaded["rules"], shown)
        with forms.service_errors(NAMES):
            saved = programme.change(_db(), changes, loaded["note"], g.user.actor, utcnow())
    except Invalid as invalid:
        return _rules_page(form, forms.placed(invalid.errors, SHOWN)), 422
    flash(f"Fund rules version {saved.version} saved.")
    return redirect(url_for(".fund_rules"), 303)


def _shown_rules(based_on: str) -> dict[str, Any]:
    """The version the form was filled in with."""
    if not (based_on.isascii() and based_on.isdigit() and int(based_on) <= MAX_VERSION):
        abort(400, "The form is incomplete. Reload the page and try again.")
    return programme.get(_db(), int(based_on)).rules.to_dict()


def _changed_rules(typed: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """The rules the person changed, like the API's body: two admins changing different
    rules at once both keep their change."""

    def same(name: str) -> bool:
        if name == "countries":
            return sorted(set(typed[name])) == shown[name]
        return typed[name] == shown[name]

    return {name: value for name, value in typed.items() if not same(name)}


def _values(rules: dict[str, Any], version: int) -> dict[str, str]:
    """A rules version as the form's text: amounts in units, countries separated by commas."""
    values = {
        field: "" if rules[rule] is None else format_amount(rules[rule])
        for field, rule in AMOUNT_FIELDS.items()
    }
    values |= {name: str(rules[name]) for name in (*NUMBER_FIELDS, "currency", "pool_mode")}
    values["countries"] = ", ".join(rules["countries"])
    values["note"] = ""
    values["based_on"] = str(version)
    return values


def _rules_page(values: dict[str, str], errors: forms.Errors | None = None):
    now = utcnow()
    versions = programme.versions(_db(), now)  # newest first; version 1 is the defaults
    history = [
        (found, _changes(older.rules, found.rules) if older else [])
        for found, older in zip(versions, [*versions[1:], None], strict=True)
    ]
    return render_template(
        "admin/fund_rules.html",
        current=versions[0],
        described=_described(versions[0].rules),
        history=history,
        values=values,
        errors=errors or {},
        labels=LABELS,
        can_change=g.user.actor.role is Role.ADMIN,
        currency_options=[(code, code) for code in sorted(currency_codes())],
        pool_modes=list(POOL_MODES.items()),
    )


def _described(rules: Rules) -> list[tuple[str, str]]:
    """Each rule with its label, as a person reads it (amounts with their currency)."""
    return [(LABELS[name], _text(rules, name, value)) for name, value in rules.to_dict().items()]


def _changes(before: Rules, after: Rules) -> list[str]:
    old, new = before.to_dict(), after.to_dict()
    return [
        f"{LABELS[name]}: {_text(before, name, old[name])} → {_text(after, name, new[name])}"
        for name in new
        if old[name] != new[name]
    ]


def _text(rules: Rules, name: str, value: Any) -> str:
    if name == "cap_micros" and value is None:
        return "no cap"
    if name in AMOUNT_FIELDS.values():
        return str(Money(rules.currency, value))
    if name == "pool_mode":
        return POOL_MODES.get(value, value)
    if name == "countries":
        return ", ".join(value)
    if name == "revenue_share_ppm":
        return f"{value:,} ({value / (PPM / 100):g}%)"
    return f"{value:,}" if isinstance(value, int) else str(value)


@bp.app_context_processor
def _admin_vocabulary() -> dict:
    return {"ModelStatus": ModelStatus}


# Nested in ``web`` so its before_request (CSRF, the signed-in user) and error pages apply.
# Done once, at import: a blueprint cannot take children after an app registered it.
web.register_blueprint(bp)

"""The advertiser's account: the dashboard, funding with Stripe, statements.

Each page calls the service its /v1 twin calls, as the signed-in user's actor (an advertiser,
scoped to its own advertiser): the balance as GET /v1/funding/balance, the chart from the
delivery report of GET /v1/reports/delivery, top-ups as POST /v1/funding/top-ups and
statements as GET /v1/advertisers/{id}/statements/{month}. So a page accepts, refuses and
counts exactly what the API does.

Paying: the server creates the top-up (a Stripe PaymentIntent), the page confirms the card
with Stripe.js (static/funding.js) and the balance is credited only when Stripe's signed
webhook says the payment succeeded, never on the browser's word.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, g, render_template, request, url_for

from adsmanager.api.common import stripe_gateway
from adsmanager.api.funding.schemas import TopUpCreateSchema
from adsmanager.services import advertisers, funding, reports, statements
from adsmanager.services.errors import Conflict, InvalidInput, NotFound, Unavailable
from adsmanager.vocabulary import Role, TopUpStatus
from adsmanager.web import _db, forms
from adsmanager.web import bp as web
from adsmanager.web.auth import signed_in
from adsmanager.web.forms import Collected, Invalid

bp = Blueprint("account", __name__)
CHART_DAYS = 30
STATEMENT_MONTHS = 24  # how far back the statements list goes
TOP_UPS_PER_PAGE = 50
AMOUNT_NAMES = {"amount_micros": "amount"}  # API field → form field
NOT_CONFIGURED = (
    "Card payments are not configured here: STRIPE_API_KEY and STRIPE_PUBLISHABLE_KEY "
    "must both be set."
)


def _actor():
    return g.user.actor


def _advertiser():
    return advertisers.get(_db(), _actor(), _actor().advertiser_id)


def _settings():
    return current_app.extensions["adsmanager.settings"]


# --- the dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    impressions: int = 0
    clicks: int = 0
    spend_micros: int = 0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    value: int


@dataclass(frozen=True)
class Chart:
    """One metric over the days, as bars in a 600×160 box (scaled to the page by CSS)."""

    key: str
    title: str
    bars: list[Bar]
    total: int
    peak: Day | None

    WIDTH = 600
    HEIGHT = 160


def _chart(key: str, title: str, days: list[Day]) -> Chart:
    values = [getattr(day, key) for day in days]
    top = max(values, default=0)
    step = Chart.WIDTH / max(len(days), 1)
    bars = [
        Bar(
            x=round(index * step + step * 0.15, 2),
            y=round(Chart.HEIGHT - (value / top * Chart.HEIGHT if top else 0), 2),
            width=round(step * 0.7, 2),
            height=round(value / top * Chart.HEIGHT if top else 0, 2),
            day=day.day,
            value=value,
        )
        for index, (day, value) in enumerate(zip(days, values, strict=True))
    ]
    peak = max(days, key=lambda day: getattr(day, key)) if top else None
    return Chart(key, title, bars, sum(values), peak)


def _last_days(zone: ZoneInfo, count: int) -> tuple[list[date], datetime, datetime]:
    """The last ``count`` days of the advertiser's calendar, today included, and the UTC
    instants that bound them (DST days are 23 or 25 hours long)."""
    today = datetime.now(zone).date()
    days = [today - timedelta(days=back) for back in range(count - 1, -1, -1)]
    start = datetime.combine(days[0], time(), zone).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), time(), zone).astimezone(UTC)
    return days, start, end


def _daily_delivery(advertiser) -> list[Day]:
    """The delivery report by day (the API's ``granularity=day``), summed over campaigns,
    with the quiet days filled in as zeros."""
    days, start, end = _last_days(ZoneInfo(advertiser.timezone), CHART_DAYS)
    rows = reports.delivery(
        _db(),
        _actor(),
        level="campaign",
        granularity="day",
        start=start,
        end=end,
        advertiser_id=advertiser.id,
    )
    sums = {day: [0, 0, 0] for day in days}
    for row in rows:
        total = sums.setdefault(row.period, [0, 0, 0])
        total[0] += row.impressions
        total[1] += row.clicks
        total[2] += row.spend_micros
    return [Day(day, *sums[day]) for day in days]


@bp.get("/dashboard", endpoint="dashboard")
@signed_in(Role.ADVERTISER)
def dashboard():
    advertiser = _advertiser()
    days = _daily_delivery(advertiser)
    charts = [
        _chart("spend_micros", "Spend", days),
        _chart("impressions", "Impressions", days),
        _chart("clicks", "Clicks", days),
    ]
    return render_template(
        "account/dashboard.html",
        advertiser=advertiser,
        balance=funding.balance(_db(), _actor(), advertiser.id),
        days=days,
        charts=charts,
        Chart=Chart,
    )


# --- funding ------------------------------------------------------------------------------------


def _card_payments_ready() -> bool:
    """Stripe is usable from a page only with both keys: the secret one for the server,
    the publishable one for Stripe.js in the browser."""
    return stripe_gateway() is not None and bool(_settings().stripe_publishable_key)


def _stripe_js_url() -> str:
    """Stripe.js, or the stand-in the Stripe-compatible server at STRIPE_API_BASE serves."""
    base = _settings().stripe_api_base
    return f"{base.rstrip('/')}/js.stripe.com/v3/" if base else "https://js.stripe.com/v3/"


def _funding_page(
    amount: str = "",
    key: str | None = None,
    errors: dict | None = None,
    error: str | None = None,
    status: int = 200,
):
    advertiser = _advertiser()
    try:
        top_ups = funding.list_top_ups(
            _db(),
            _actor(),
            advertiser_id=advertiser.id,
            status=None,
            page_size=TOP_UPS_PER_PAGE,
            page_token=request.args.get("page_token") or None,
        )
    except InvalidInput:
        abort(400, "That page link is not valid any more; start from the first page.")
    settings = _settings()
    return (
        render_template(
            "account/funding.html",
            advertiser=advertiser,
            balance=funding.balance(_db(), _actor(), advertiser.id),
            top_ups=top_ups,
            paid=_paid_top_up(),
            ready=_card_payments_ready(),
            amount=amount,
            # A fresh key per form: submitting the same form twice is the same top-up.
            key=key or secrets.token_urlsafe(16),
            errors=forms.placed(errors or {}, ["amount"]),
            error=error,
            min_micros=settings.min_top_up_micros,
            max_micros=settings.max_top_up_micros,
            TopUpStatus=TopUpStatus,
        ),
        status,
    )


def _paid_top_up():
    """The top-up Stripe.js just reported paid (``?paid=<id>``), as the database sees it."""
    top_up_id = request.args.get("paid")
    if not top_up_id:
        return None
    try:
        return funding.get_top_up(_db(), _actor(), top_up_id)
    except NotFound:
        return None


@bp.route("/funding", methods=["GET", "POST"], endpoint="funding")
@signed_in(Role.ADVERTISER)
def funding_view():
    """The balance, the amount form and the top-ups; posting the form creates the top-up as
    POST /v1/funding/top-ups does and shows the card form."""
    if request.method == "GET":
        return _funding_page()
    text = request.form.get("amount", "").strip()
    key = request.form.get("key", "")
    if not 1 <= len(key) <= 100 or not key.isascii() or not key.isprintable():
        abort(400, "The form is incomplete. Reload the page and try again.")
    if not _card_payments_ready():
        return _funding_page(text, key, error=NOT_CONFIGURED, status=503)
    currency = _advertiser().currency
    collected = Collected()
    try:
        micros = collected.amount("amount", text, currency)
        data = collected.load(TopUpCreateSchema(), {"amount_micros": micros}, AMOUNT_NAMES)
        with forms.service_errors(AMOUNT_NAMES):
            view = funding.create_top_up(
                _db(),
                stripe_gateway(),
                _settings(),
                _actor(),
                idempotency_key=key,
                **data,
            )
    except Invalid as invalid:
        return _funding_page(text, key, errors=invalid.errors, status=422)
    except Conflict as conflict:
        return _funding_page(text, key, error=conflict.message, status=409)
    except Unavailable as unavailable:
        return _funding_page(text, key, error=unavailable.message, status=503)
    if view.client_secret is None:  # this form was already paid (or failed): show where it is
        return _funding_page(error=f"Top-up {view.id} is already {view.status}.", status=409)
    return render_template(
        "account/pay.html",
        top_up=view,
        stripe_js=_stripe_js_url(),
        done_url=url_for(".funding", paid=view.id),
    )


# --- statements ---------------------------------------------------------------------------------


def _months(advertiser) -> list[str]:
    """Months of the advertiser's calendar from the newest back to its first (at most
    STATEMENT_MONTHS of them)."""
    zone = ZoneInfo(advertiser.timezone)
    first = advertiser.created_at.astimezone(zone).date().replace(day=1)
    month = datetime.now(zone).date().replace(day=1)
    months = []
    while month >= first and len(months) < STATEMENT_MONTHS:
        months.append(f"{month:%Y-%m}")
        month = (month - timedelta(days=1)).replace(day=1)
    return months


@bp.get("/statements", endpoint="statements")
@signed_in(Role.ADVERTISER)
def statements_view():
    advertiser = _advertiser()
    monthly = [
        statements.monthly(_db(), _actor(), advertiser.id, month) for month in _months(advertiser)
    ]
    return render_template("account/statements.html", advertiser=advertiser, monthly=monthly)


@bp.get("/statements/<month>.csv")
@signed_in(Role.ADVERTISER)
def statement_csv(month: str):
    try:
        statement = statements.monthly(_db(), _actor(), _actor().advertiser_id, month)
    except InvalidInput:
        abort(400, f"There is no statement for {month!r}: months look like 2026-01.")
    return Response(
        statements.to_csv(statement),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="statement-{statement.month}.csv"'},
    )


# Nested in ``web`` so its before_request (CSRF, the signed-in user) and error pages apply.
# Done once, at import: a blueprint cannot take children after an app registered it.
web.register_blueprint(bp)

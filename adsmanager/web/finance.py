"""Finance's pages for the creator fund's payout runs: the list, computing a period, a run
with its totals, lines and chart, each creator's explanation, the CSV export, and approving
and paying with a confirmation step.

Every page calls the same service as its /v1/payout-runs twin, with the same roles: finance
and admin read and compute, only finance approves and pays. A service's refusal (a 409 such
as ``stale_run``, Stripe not configured) is shown on the page with its status, never a 500.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from adsmanager.api.common import stripe_gateway
from adsmanager.db.base import utcnow
from adsmanager.services import fund_reports, payout_runs, payouts
from adsmanager.services.errors import Conflict, InvalidInput, Unavailable
from adsmanager.services.funding import require_gateway
from adsmanager.services.pagination import DEFAULT_PAGE_SIZE
from adsmanager.vocabulary import PayoutLineStatus, PayoutRunStatus, Role
from adsmanager.web import _db
from adsmanager.web import bp as web
from adsmanager.web.auth import signed_in
from billing.money import Money

bp = Blueprint("finance", __name__, url_prefix="/finance")
READERS = (Role.FINANCE, Role.ADMIN)  # as in adsmanager.api.payout_runs
RUNS_PER_PAGE = DEFAULT_PAGE_SIZE
LINES_PER_PAGE = DEFAULT_PAGE_SIZE


@bp.app_template_filter("money")
def money(micros: int | None, currency: str) -> str:
    return "—" if micros is None else str(Money(currency, micros))


def _confirmation(run, action: str, error: str | None = None, status: int = 200):
    """The page that asks before approving or paying, with the service's refusal if any."""
    return render_template("finance/confirm.html", run=run, action=action, error=error), status


# --- the list and computing a period --------------------------------------------------------


@bp.get("/payout-runs")
@signed_in(*READERS)
def runs():
    return _runs_page()


def _runs_page(period: str = "", error: str | None = None, field_error: str | None = None):
    try:
        page = payout_runs.runs(_db(), RUNS_PER_PAGE, request.args.get("page_token") or None)
    except InvalidInput:
        abort(400, "That page link is not valid any more; start from the first page.")
    return render_template(
        "finance/runs.html",
        page=page,
        period=period,
        error=error,
        field_error=field_error,
        can_compute=g.user.actor.role in READERS,
    )


@bp.post("/payout-runs")
@signed_in(*READERS)
def compute():
    text = request.form.get("period", "").strip()
    try:
        run = payout_runs.compute(_db(), payout_runs.parse_period(text), g.user.actor, utcnow())
    except InvalidInput as invalid:
        messages = invalid.fields.get("period") or [invalid.message]
        return _runs_page(text, field_error=" ".join(messages)), 422
    except Conflict as conflict:
        return _runs_page(text, error=conflict.message), 409
    flash(f"Run {run.id} computed for {text}: a draft, waiting for approval.")
    return redirect(url_for(".run", run_id=run.id))


# --- a run ------------------------------------------------------------------------------------


@bp.get("/payout-runs/<run_id>")
@signed_in(*READERS)
def run(run_id: str):
    report = fund_reports.report(_db(), run_id)
    found = payout_runs.get(_db(), run_id)
    status = _line_status(request.args.get("status", ""))
    try:
        lines = payout_runs.lines(
            _db(), run_id, LINES_PER_PAGE, request.args.get("page_token") or None, status
        )
    except InvalidInput:
        abort(400, "That page link is not valid any more; start from the first page.")
    return render_template(
        "finance/run.html",
        run=found,
        report=report,
        lines=lines,
        status=status,
        statuses=list(PayoutLineStatus),
        is_finance=g.user.actor.role is Role.FINANCE,
    )


def _line_status(text: str) -> PayoutLineStatus | None:
    if not text:
        return None
    try:
        return PayoutLineStatus(text)
    except ValueError:
        abort(400, f"{text!r} is not a line status.")


@bp.get("/payout-runs/<run_id>/lines/<creator_id>")
@signed_in(*READERS)
def line(run_id: str, creator_id: str):
    explained = fund_reports.explanation(_db(), run_id, creator_id)
    return render_template("finance/line.html", run=payout_runs.get(_db(), run_id), line=explained)


@bp.get("/payout-runs/<run_id>/distribution.png")
@signed_in(*READERS)
def distribution(run_id: str):
    return Response(fund_reports.distribution_png(_db(), run_id), mimetype="image/png")


@bp.get("/payout-runs/<run_id>/export.csv")
@signed_in(*READERS)
def export(run_id: str):
    found = payout_runs.get(_db(), run_id)
    rows = fund_reports.csv_rows(found, payout_runs.all_lines(_db(), run_id))
    return Response(
        rows,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="payout-run-{run_id}.csv"'},
    )


# --- approving and paying, each confirmed first ---------------------------------------------


@bp.route("/payout-runs/<run_id>/approve", methods=["GET", "POST"])
@signed_in(Role.FINANCE)
def approve(run_id: str):
    found = payout_runs.get(_db(), run_id)
    if request.method == "GET":
        return _confirmation(found, "approve")
    try:
        approved = payout_runs.approve(_db(), run_id, g.user.actor, utcnow())
    except Conflict as conflict:
        return _confirmation(payout_runs.get(_db(), run_id), "approve", conflict.message, 409)
    flash(f"Run {approved.id} is approved: its shares are in the ledger and it can be paid.")
    return redirect(url_for(".run", run_id=run_id))


@bp.route("/payout-runs/<run_id>/pay", methods=["GET", "POST"])
@signed_in(Role.FINANCE)
def pay(run_id: str):
    found = payout_runs.get(_db(), run_id)
    if request.method == "GET":
        return _confirmation(found, "pay")
    try:
        result = payouts.pay(_db(), require_gateway(stripe_gateway()), run_id, g.user.actor, utcnow)
    except Conflict as conflict:
        return _confirmation(payout_runs.get(_db(), run_id), "pay", conflict.message, 409)
    except Unavailable as unavailable:
        return _confirmation(found, "pay", unavailable.message, 503)
    message = f"Run {run_id} is {result.run.status}: {result.paid} transfer(s) made"
    if result.failed:
        message += f", {result.failed} failed (see the FAILED lines; paying again retries them)"
    flash(message + ".")
    return redirect(url_for(".run", run_id=run_id))


@bp.app_context_processor
def _finance_vocabulary() -> dict:
    return {"PayoutRunStatus": PayoutRunStatus}


# Nested in ``web`` so its before_request (CSRF, the signed-in user) and error pages apply.
# Done once, at import: a blueprint cannot take children after an app registered it.
web.register_blueprint(bp)

from flask import Response
from flask.views import MethodView

from adsmanager.api.auth import actor
from adsmanager.api.common import Blueprint, PageArgs, database, page_of, stripe_gateway
from adsmanager.api.payout_runs.schemas import (
    ComputeSchema,
    ExplainedLineSchema,
    ExportArgs,
    LineListArgs,
    LineSchema,
    PayResultSchema,
    ReportSchema,
    RunSchema,
)
from adsmanager.db.base import utcnow
from adsmanager.services import fund_reports, payout_runs, payouts
from adsmanager.services.funding import require_gateway
from adsmanager.vocabulary import Role

blp = Blueprint(
    "payout_runs",
    __name__,
    url_prefix="/v1/payout-runs",
    description=(
        "Creator-fund payout runs: computed as a draft for a day or a month, explained, "
        "approved by finance and paid through Stripe Connect transfers."
    ),
)
READERS = (Role.FINANCE, Role.ADMIN)


@blp.route("")
class Runs(MethodView):
    @blp.requires(Role.FINANCE, Role.ADMIN)
    @blp.arguments(ComputeSchema)
    @blp.response(201, RunSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Compute the DRAFT run of a day or a month; computing a period again replaces its
        draft. A period already approved, or overlapping another run, is a 409."""
        period = payout_runs.parse_period(data["period"])
        return payout_runs.compute(database(), period, actor(), utcnow())

    @blp.requires(*READERS)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(RunSchema))
    def get(self, args):
        """Runs in the order they were first computed."""
        return payout_runs.runs(database(), **args)


@blp.route("/<run_id>")
class Run(MethodView):
    @blp.requires(*READERS)
    @blp.response(200, RunSchema)
    def get(self, run_id):
        return payout_runs.get(database(), run_id)

    @blp.requires(Role.FINANCE)
    @blp.response(204)
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, run_id):
        """Discard a DRAFT run."""
        payout_runs.delete_draft(database(), run_id, utcnow())


@blp.route("/<run_id>/lines")
class Lines(MethodView):
    @blp.requires(*READERS)
    @blp.arguments(LineListArgs, location="query")
    @blp.response(200, page_of(LineSchema))
    def get(self, args, run_id):
        """One line per creator: eligibility, weight, exact share, rounding, cap,
        carry-over, clawbacks, what is paid and its transfer."""
        return payout_runs.lines(database(), run_id, **args)


@blp.route("/<run_id>/lines/<creator_id>")
class Line(MethodView):
    @blp.requires(*READERS)
    @blp.response(200, ExplainedLineSchema)
    def get(self, run_id, creator_id):
        """A creator's line, explained in words."""
        return fund_reports.explanation(database(), run_id, creator_id)


@blp.route("/<run_id>/export")
class Export(MethodView):
    @blp.requires(*READERS)
    @blp.arguments(ExportArgs, location="query")
    @blp.response(200, content_type="text/csv")
    def get(self, args, run_id):
        """Every line of the run as CSV, streamed."""
        run = payout_runs.get(database(), run_id)
        rows = fund_reports.csv_rows(run, payout_runs.all_lines(database(), run_id))
        return Response(
            rows,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="payout-run-{run_id}.csv"'},
        )


@blp.route("/<run_id>/approve")
class Approve(MethodView):
    @blp.requires(Role.FINANCE)
    @blp.response(200, RunSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, run_id):
        """Approve a DRAFT run (finance): its shares and clawbacks go into the ledger and it
        can be paid. The approver is recorded."""
        return payout_runs.approve(database(), run_id, actor(), utcnow())


@blp.route("/<run_id>/pay")
class Pay(MethodView):
    @blp.requires(Role.FINANCE)
    @blp.response(200, PayResultSchema)
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def post(self, run_id):
        """Pay an approved run: one Stripe transfer per payable creator. Lines that fail
        keep their reason and leave the run PARTIALLY_PAID; paying again retries them and
        never pays a creator twice."""
        gateway = require_gateway(stripe_gateway())
        return payouts.pay(database(), gateway, run_id, actor(), utcnow)


@blp.route("/<run_id>/report")
class Report(MethodView):
    @blp.requires(*READERS)
    @blp.response(200, ReportSchema)
    def get(self, run_id):
        """Totals, exclusions by reason, carry-overs and the spread of payouts."""
        return fund_reports.report(database(), run_id)


@blp.route("/<run_id>/distribution.png")
class Distribution(MethodView):
    @blp.requires(*READERS)
    @blp.response(200, content_type="image/png")
    def get(self, run_id):
        """The payouts as a histogram and a Lorenz curve."""
        return Response(fund_reports.distribution_png(database(), run_id), mimetype="image/png")

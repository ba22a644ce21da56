from flask import Response
from flask.views import MethodView

from adsmanager.api.auth import actor
from adsmanager.api.common import Blueprint, database, page_of, stripe_gateway
from adsmanager.api.ledger.schemas import (
    AccountListArgs,
    AccountSchema,
    EntryListArgs,
    EntrySchema,
    LedgerCheckSchema,
    ReconcileSchema,
    ReconciliationListArgs,
    ReconciliationSchema,
    StatementArgs,
    StatementSchema,
)
from adsmanager.services import ledger, reconciliation, statements
from adsmanager.services.errors import invalid
from adsmanager.services.funding import require_gateway
from adsmanager.vocabulary import Role

blp = Blueprint(
    "ledger",
    __name__,
    url_prefix="/v1",
    description="The double-entry ledger, statements and reconciliation with Stripe.",
)
FINANCE = (Role.ADMIN, Role.FINANCE)


@blp.route("/ledger/entries")
class Entries(MethodView):
    @blp.requires(Role.ADMIN, Role.FINANCE, Role.ADVERTISER)
    @blp.arguments(EntryListArgs, location="query")
    @blp.response(200, page_of(EntrySchema))
    def get(self, args):
        """Journal entries with their postings, newest first (an advertiser sees its own)."""
        return ledger.list_entries(database(), actor(), **args)


@blp.route("/ledger/accounts")
class Accounts(MethodView):
    @blp.requires(*FINANCE)
    @blp.arguments(AccountListArgs, location="query")
    @blp.response(200, page_of(AccountSchema))
    def get(self, args):
        """Accounts with their balances (the sum of their postings)."""
        return ledger.list_accounts(database(), **args)


@blp.route("/ledger/check")
class Check(MethodView):
    @blp.requires(*FINANCE)
    @blp.response(200, LedgerCheckSchema)
    def get(self):
        """Check the ledger: every entry sums to zero, every balance is its postings' sum."""
        result = ledger.check(database())
        return {**vars(result), "ok": result.ok}


@blp.route("/advertisers/<advertiser_id>/statements/<month>")
class Statement(MethodView):
    @blp.requires(Role.ADMIN, Role.FINANCE, Role.ADVERTISER)
    @blp.arguments(StatementArgs, location="query")
    @blp.response(200, StatementSchema, content_type="application/json")
    @blp.alt_response(200, content_type="text/csv", success=True)
    def get(self, args, advertiser_id, month):
        """The monthly statement (month YYYY-MM, in the advertiser's time zone): opening
        balance, top-ups, credits, refunds, spend by campaign, closing balance."""
        statement = statements.monthly(database(), actor(), advertiser_id, month)
        if args["format"] == "csv":
            return Response(
                statements.to_csv(statement),
                mimetype="text/csv",
                headers={
                    "Content-Disposition": (
                        f'attachment; filename="statement-{advertiser_id}-{month}.csv"'
                    )
                },
            )
        return statement


@blp.route("/reconciliations")
class Reconciliations(MethodView):
    @blp.requires(*FINANCE)
    @blp.arguments(ReconcileSchema)
    @blp.response(201, ReconciliationSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def post(self, data):
        """Compare Stripe's payments and refunds created in [since, until) with the ledger."""
        if data["since"] >= data["until"]:
            raise invalid("until", "Must be after since.")
        return reconciliation.reconcile(database(), require_gateway(stripe_gateway()), **data)

    @blp.requires(*FINANCE)
    @blp.arguments(ReconciliationListArgs, location="query")
    @blp.response(200, ReconciliationSchema(many=True))
    def get(self, args):
        """The latest reconciliations, newest first, with their differences."""
        return reconciliation.recent(database(), args["limit"])

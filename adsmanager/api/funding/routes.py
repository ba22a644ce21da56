from flask.views import MethodView

from adsmanager.api.auth import actor
from adsmanager.api.common import (
    IDEMPOTENCY_HEADER,
    Blueprint,
    attributes,
    database,
    idempotency_key,
    page_of,
    settings,
    stripe_gateway,
)
from adsmanager.api.funding.schemas import (
    BalanceArgs,
    BalanceSchema,
    CreditCreateSchema,
    CreditSchema,
    RefundCreateSchema,
    RefundSchema,
    TopUpCreatedSchema,
    TopUpCreateSchema,
    TopUpListArgs,
    TopUpSchema,
)
from adsmanager.services import funding, refunds
from adsmanager.vocabulary import Role

blp = Blueprint(
    "funding",
    __name__,
    url_prefix="/v1",
    description="The prepaid balance: top-ups through Stripe, refunds, credits.",
)
READERS = (Role.ADMIN, Role.ADVERTISER, Role.FINANCE)


@blp.route("/funding/top-ups")
class TopUps(MethodView):
    @blp.requires(Role.ADVERTISER, Role.ADMIN)
    @blp.arguments(TopUpCreateSchema)
    @blp.response(201, TopUpCreatedSchema)
    @blp.alt_response(402, response="PAYMENT_REQUIRED")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    def post(self, data):
        """Start a top-up: a Stripe PaymentIntent the client confirms with Stripe.js. The
        balance is credited when Stripe's webhook confirms the payment."""
        view = funding.create_top_up(
            database(),
            stripe_gateway(),
            settings(),
            actor(),
            idempotency_key=idempotency_key(),
            **data,
        )
        return attributes(
            view.top_up,
            TopUpSchema,
            client_secret=view.client_secret,
            publishable_key=view.publishable_key,
        )

    @blp.requires(*READERS)
    @blp.arguments(TopUpListArgs, location="query")
    @blp.response(200, page_of(TopUpSchema))
    def get(self, args):
        """List top-ups (an advertiser's key sees only its own)."""
        return funding.list_top_ups(database(), actor(), **args)


@blp.route("/funding/top-ups/<top_up_id>")
class TopUpById(MethodView):
    @blp.requires(*READERS)
    @blp.response(200, TopUpSchema)
    def get(self, top_up_id):
        """Get a top-up."""
        return funding.get_top_up(database(), actor(), top_up_id)


@blp.route("/funding/balance")
class FundingBalance(MethodView):
    @blp.requires(*READERS)
    @blp.arguments(BalanceArgs, location="query")
    @blp.response(200, BalanceSchema)
    def get(self, args):
        """The balance: the ledger's, the spend not yet posted, and what is available."""
        balance = funding.balance(database(), actor(), args["advertiser_id"])
        return {**vars(balance), "available_micros": balance.available_micros}


@blp.route("/advertisers/<advertiser_id>/refunds")
class Refunds(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.arguments(RefundCreateSchema)
    @blp.response(201, RefundSchema)
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    def post(self, data, advertiser_id):
        """Refund (part of) a top-up through Stripe; at most what is left unspent. If Stripe
        does not answer, the refund stays PENDING: repeat the request with the same
        Idempotency-Key to finish it."""
        return refunds.refund(
            database(),
            stripe_gateway(),
            actor(),
            advertiser_id,
            idempotency_key=idempotency_key(),
            **data,
        )


@blp.route("/advertisers/<advertiser_id>/credits")
class Credits(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.arguments(CreditCreateSchema)
    @blp.response(201, CreditSchema)
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    def post(self, data, advertiser_id):
        """Credit the balance (a make-good, a promotion): a cost to the platform."""
        return funding.credit(
            database(), actor(), advertiser_id, idempotency_key=idempotency_key(), **data
        )

from flask import request
from flask.views import MethodView
from marshmallow import fields
from werkzeug.exceptions import BadRequest

from adsmanager.api.common import Blueprint, StrictSchema, database, settings
from adsmanager.services import funding
from adsmanager.services.errors import Unavailable
from billing.stripe_gateway import BadWebhook, verify_webhook

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1/webhooks",
    description="Notifications from Stripe, verified by their signature.",
)


class WebhookOutcomeSchema(StrictSchema):
    event_id = fields.String(required=True)
    outcome = fields.String(required=True)


@blp.route("/stripe")
class StripeWebhook(MethodView):
    @blp.response(200, WebhookOutcomeSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    @blp.doc(
        security=[],
        parameters=[
            {
                "in": "header",
                "name": "Stripe-Signature",
                "required": True,
                "schema": {"type": "string"},
                "description": "Stripe's HMAC-SHA256 signature of the body, with a timestamp.",
            }
        ],
        requestBody={"content": {"application/json": {"schema": {"type": "object"}}}},
    )
    def post(self):
        """Stripe's events. Each is verified (signature, 300 s tolerance) and applied once:
        a succeeded payment credits the balance, a failed one credits nothing."""
        secret = settings().stripe_webhook_secret
        if not secret:
            raise Unavailable(
                "stripe_not_configured", "STRIPE_WEBHOOK_SECRET is not set: events are refused."
            )
        try:
            event = verify_webhook(
                request.get_data(), request.headers.get("Stripe-Signature"), secret
            )
        except BadWebhook as error:
            raise BadRequest(f"Refused: {error}.") from None
        return {"event_id": event["id"], "outcome": funding.handle_stripe_event(database(), event)}

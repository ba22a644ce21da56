from marshmallow import fields, validate

from adsmanager.api.common import Id, Micros, PageArgs, StrictSchema
from adsmanager.vocabulary import RefundStatus, TopUpStatus

REASON = fields.String(
    required=True,
    validate=validate.Length(min=1, max=500),
    metadata={"description": "Why; kept in the ledger with who did it."},
)


class TopUpCreateSchema(StrictSchema):
    amount_micros = Micros(
        required=True,
        metadata={"description": "A whole number of the currency's minor units, in micros."},
    )
    advertiser_id = Id(
        load_default=None,
        metadata={
            "description": "Admins name the advertiser; an advertiser's key tops up its own."
        },
    )


class TopUpSchema(StrictSchema):
    id = fields.String(required=True)
    advertiser_id = fields.String(required=True)
    amount_micros = fields.Integer(required=True)
    currency = fields.String(required=True)
    status = fields.Enum(TopUpStatus, by_value=True, required=True)
    payment_intent_id = fields.String(allow_none=True, required=True)
    failure_reason = fields.String(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class TopUpCreatedSchema(TopUpSchema):
    client_secret = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Confirm the payment with Stripe.js using this secret."},
    )
    publishable_key = fields.String(allow_none=True, required=True)


class TopUpListArgs(PageArgs):
    advertiser_id = Id(load_default=None)
    status = fields.Enum(TopUpStatus, by_value=True, load_default=None)


class BalanceArgs(StrictSchema):
    advertiser_id = Id(load_default=None)


class BalanceSchema(StrictSchema):
    advertiser_id = fields.String(required=True)
    currency = fields.String(required=True)
    ledger_balance_micros = fields.Integer(
        required=True,
        metadata={"description": "Top-ups and credits less refunds and posted spend."},
    )
    unposted_spend_micros = fields.Integer(
        required=True, metadata={"description": "Charged, not yet posted to the ledger."}
    )
    pending_refunds_micros = fields.Integer(
        required=True,
        metadata={"description": "Refunds Stripe has not answered yet: promised back."},
    )
    available_micros = fields.Integer(
        required=True,
        metadata={
            "description": "What the auction lets the advertiser spend: the ledger balance "
            "less unposted spend and pending refunds."
        },
    )


class RefundCreateSchema(StrictSchema):
    top_up_id = Id(required=True)
    amount_micros = Micros(required=True)
    reason = REASON


class RefundSchema(StrictSchema):
    id = fields.String(required=True)
    advertiser_id = fields.String(required=True)
    top_up_id = fields.String(required=True)
    amount_micros = fields.Integer(required=True)
    currency = fields.String(required=True)
    reason = fields.String(required=True)
    status = fields.Enum(RefundStatus, by_value=True, required=True)
    stripe_refund_id = fields.String(allow_none=True, required=True)
    failure_reason = fields.String(allow_none=True, required=True)
    entry_id = fields.Integer(allow_none=True, required=True)
    created_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class CreditCreateSchema(StrictSchema):
    amount_micros = Micros(required=True)
    reason = REASON


class CreditSchema(StrictSchema):
    credit_id = fields.String(required=True)
    advertiser_id = fields.String(required=True)
    amount_micros = fields.Integer(required=True)
    currency = fields.String(required=True)
    reason = fields.String(required=True)
    created_by = fields.String(required=True)
    entry_id = fields.Integer(required=True)

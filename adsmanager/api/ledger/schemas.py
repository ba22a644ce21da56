from marshmallow import fields, validate

from adsmanager.api.common import Id, PageArgs, StrictSchema, Timestamp
from billing.ledger import AccountKind, EntryKind


class PostingSchema(StrictSchema):
    account_kind = fields.String(required=True)
    owner_id = fields.String(required=True, metadata={"description": '"" for platform accounts.'})
    currency = fields.String(required=True)
    amount_micros = fields.Integer(required=True)


class EntrySchema(StrictSchema):
    id = fields.Integer(required=True)
    idempotency_key = fields.String(required=True)
    kind = fields.String(required=True)
    advertiser_id = fields.String(allow_none=True, required=True)
    campaign_id = fields.String(allow_none=True, required=True)
    reference = fields.String(allow_none=True, required=True)
    memo = fields.String(allow_none=True, required=True)
    effective_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    created_by = fields.String(allow_none=True, required=True)
    postings = fields.List(fields.Nested(PostingSchema), required=True)


class EntryListArgs(PageArgs):
    advertiser_id = Id(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf([k.value for k in EntryKind]))


class AccountSchema(StrictSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    owner_id = fields.String(required=True)
    currency = fields.String(required=True)
    balance_micros = fields.Integer(required=True)
    updated_at = fields.DateTime(required=True)


class AccountListArgs(PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf([k.value for k in AccountKind]))
    owner_id = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "An advertiser's id, or a creator's (the platform's id)."},
    )


class LedgerCheckSchema(StrictSchema):
    ok = fields.Boolean(required=True)
    entries = fields.Integer(required=True)
    totals_by_currency = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    unbalanced_entries = fields.List(fields.Integer(), required=True)
    drifted_accounts = fields.List(fields.Integer(), required=True)


class CampaignSpendSchema(StrictSchema):
    campaign_id = fields.String(required=True)
    campaign_name = fields.String(required=True)
    spend_micros = fields.Integer(required=True)


class StatementSchema(StrictSchema):
    advertiser_id = fields.String(required=True)
    advertiser_name = fields.String(required=True)
    currency = fields.String(required=True)
    timezone = fields.String(required=True)
    month = fields.String(required=True)
    period_start = fields.DateTime(required=True)
    period_end = fields.DateTime(required=True)
    opening_balance_micros = fields.Integer(required=True)
    top_ups_micros = fields.Integer(required=True)
    credits_micros = fields.Integer(required=True)
    refunds_micros = fields.Integer(required=True)
    spend_micros = fields.Integer(required=True)
    closing_balance_micros = fields.Integer(required=True)
    spend_by_campaign = fields.List(fields.Nested(CampaignSpendSchema), required=True)


class StatementArgs(StrictSchema):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(["json", "csv"]),
        metadata={"description": "csv for a spreadsheet (text/csv)."},
    )


class ReconcileSchema(StrictSchema):
    since = Timestamp(required=True)
    until = Timestamp(required=True)


class ReconciliationSchema(StrictSchema):
    id = fields.Integer(required=True)
    started_at = fields.DateTime(required=True)
    since = fields.DateTime(required=True)
    until = fields.DateTime(required=True)
    stripe_objects = fields.Integer(required=True)
    ledger_entries = fields.Integer(required=True)
    differences = fields.List(fields.Dict(), required=True)


class ReconciliationListArgs(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))

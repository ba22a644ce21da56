from marshmallow import fields, validate

from adsmanager.api.common import StrictSchema
from adsmanager.services.reference import country_codes, currency_codes
from billing.fund_rules import PPM, PoolMode

_MICROS = validate.Range(min=0, max=10**15)


class RulesSchema(StrictSchema):
    currency = fields.String(validate=validate.OneOf(sorted(currency_codes())))
    pool_mode = fields.String(validate=validate.OneOf([mode.value for mode in PoolMode]))
    fixed_pool_micros_per_day = fields.Integer(strict=True, validate=_MICROS)
    revenue_share_ppm = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=PPM),
        metadata={"description": "Share of the period's ad revenue, in parts per million."},
    )
    min_age = fields.Integer(strict=True, validate=validate.Range(min=13, max=130))
    min_followers = fields.Integer(strict=True, validate=validate.Range(min=0, max=10**12))
    min_trailing_qualified_views = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=10**15)
    )
    trailing_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=366))
    countries = fields.List(
        fields.String(validate=validate.OneOf(sorted(country_codes()))),
        validate=validate.Length(min=1, max=300),
    )
    minimum_payout_micros = fields.Integer(strict=True, validate=_MICROS)
    cap_micros = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=10**15)
    )
    views_per_interaction = fields.Integer(strict=True, validate=validate.Range(min=0, max=10**6))
    max_bonus_percent = fields.Integer(strict=True, validate=validate.Range(min=0, max=100))


class RulesVersionSchema(StrictSchema):
    version = fields.Integer(required=True)
    rules = fields.Nested(RulesSchema, required=True)
    note = fields.String(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    created_by = fields.String(allow_none=True, required=True)


class RulesChangeSchema(StrictSchema):
    rules = fields.Nested(
        RulesSchema,
        required=True,
        metadata={"description": "The fields to change; the others keep their values."},
    )
    note = fields.String(load_default=None, validate=validate.Length(max=1000))

from marshmallow import fields, validate

from adsmanager.api.common import FullMatch, PageArgs, StrictSchema
from adsmanager.services.creators import (
    MAX_AGE,
    MAX_COUNT,
    MIN_AGE,
    PLATFORM_ID_PATTERN,
    STRIPE_ACCOUNT_PATTERN,
)
from billing.fund_rules import Standing

STANDING = {"description": "GOOD, WARNED, SUSPENDED or BANNED; only GOOD creators are paid."}


class CreatorPutSchema(StrictSchema):
    """The whole creator: a field left out is null (or an error, when it is required)."""

    country = fields.String(
        required=True,
        validate=validate.Length(equal=2),
        metadata={"description": "ISO 3166-1 alpha-2, upper case.", "example": "US"},
    )
    verified_age = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=MIN_AGE, max=MAX_AGE),
        metadata={"description": "Verified age in years; null when the age is not verified."},
    )
    followers = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=0, max=MAX_COUNT)
    )
    standing = fields.Enum(Standing, by_value=True, required=True, metadata=STANDING)
    joined_on = fields.Date(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "The day the creator joined the fund programme (UTC); null when "
            "not joined. Only engagement from that day on counts."
        },
    )
    stripe_account_id = fields.String(
        allow_none=True,
        load_default=None,
        validate=FullMatch(STRIPE_ACCOUNT_PATTERN),
        metadata={"description": "The creator's Stripe connected account, for payouts."},
    )


class CreatorSchema(StrictSchema):
    id = fields.String(required=True, metadata={"pattern": PLATFORM_ID_PATTERN})
    country = fields.String(required=True)
    verified_age = fields.Integer(allow_none=True, required=True)
    followers = fields.Integer(required=True)
    standing = fields.Enum(Standing, by_value=True, required=True, metadata=STANDING)
    joined_on = fields.Date(allow_none=True, required=True)
    stripe_account_id = fields.String(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(
        required=True, metadata={"description": "When a PUT last changed a value."}
    )


class CreatorListArgs(PageArgs):
    standing = fields.Enum(Standing, by_value=True, load_default=None)

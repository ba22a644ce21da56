from marshmallow import fields, validate

from adsmanager.api.api_keys.schemas import IssuedApiKeySchema
from adsmanager.api.common import Name, PageArgs, StrictSchema
from adsmanager.vocabulary import AdvertiserStatus

CURRENCY = fields.String(
    validate=validate.Length(equal=3),
    metadata={
        "description": "ISO 4217 code, e.g. USD. Money of this advertiser is in micros of it.",
        "example": "USD",
    },
)
TIMEZONE = fields.String(
    validate=validate.Length(min=1, max=64),
    metadata={
        "description": "IANA time zone: days for daily budgets and dayparting begin here.",
        "example": "America/New_York",
    },
)


class AdvertiserSchema(StrictSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    currency = fields.String(required=True)
    timezone = fields.String(required=True)
    status = fields.Enum(AdvertiserStatus, by_value=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class AdvertiserCreatedSchema(AdvertiserSchema):
    api_key = fields.Nested(
        IssuedApiKeySchema,
        required=True,
        metadata={"description": "The advertiser's first key, shown only in this response."},
    )


class AdvertiserCreateSchema(StrictSchema):
    name = Name(required=True)
    currency = fields.String(required=True, validate=CURRENCY.validate, metadata=CURRENCY.metadata)
    timezone = fields.String(required=True, validate=TIMEZONE.validate, metadata=TIMEZONE.metadata)


class AdvertiserUpdateSchema(StrictSchema):
    name = Name()
    timezone = fields.String(validate=TIMEZONE.validate, metadata=TIMEZONE.metadata)
    status = fields.Enum(
        AdvertiserStatus,
        by_value=True,
        validate=validate.OneOf([AdvertiserStatus.ACTIVE, AdvertiserStatus.SUSPENDED]),
        metadata={"description": "ACTIVE or SUSPENDED; archive with POST .../archive."},
    )


class AdvertiserListArgs(PageArgs):
    status = fields.Enum(AdvertiserStatus, by_value=True, load_default=None)

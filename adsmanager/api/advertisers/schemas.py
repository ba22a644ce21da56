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
INDUSTRY = {
    "description": (
        "What the advertiser sells, as an interest slug (e.g. fitness): the CTR model uses "
        "whether a viewer has this interest. Null if not given."
    ),
    "example": "fitness",
}


def _industry(**options) -> fields.String:
    return fields.String(
        allow_none=True, validate=validate.Length(min=1, max=64), metadata=INDUSTRY, **options
    )


class AdvertiserSchema(StrictSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    currency = fields.String(required=True)
    timezone = fields.String(required=True)
    industry = fields.String(required=True, allow_none=True, metadata=INDUSTRY)
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
    industry = _industry(load_default=None)


class AdvertiserUpdateSchema(StrictSchema):
    name = Name()
    timezone = fields.String(validate=TIMEZONE.validate, metadata=TIMEZONE.metadata)
    industry = _industry()
    status = fields.Enum(
        AdvertiserStatus,
        by_value=True,
        validate=validate.OneOf([AdvertiserStatus.ACTIVE, AdvertiserStatus.SUSPENDED]),
        metadata={"description": "ACTIVE or SUSPENDED; archive with POST .../archive."},
    )


class AdvertiserListArgs(PageArgs):
    status = fields.Enum(AdvertiserStatus, by_value=True, load_default=None)

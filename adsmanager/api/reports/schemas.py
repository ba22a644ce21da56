from marshmallow import fields, validate

from adsmanager.api.common import Id, StrictSchema, Timestamp
from adsmanager.services.reports import GRANULARITIES, LEVELS


class DeliveryArgs(StrictSchema):
    level = fields.String(load_default="campaign", validate=validate.OneOf(list(LEVELS)))
    granularity = fields.String(
        load_default="day",
        validate=validate.OneOf(GRANULARITIES),
        metadata={"description": "day: the advertiser's days; hour: UTC hours."},
    )
    # Delivery is kept per UTC hour: a bound inside an hour counts that hour by its start.
    start = Timestamp(
        required=True,
        metadata={"description": "Inclusive: the UTC hours that begin at or after it."},
    )
    end = Timestamp(
        required=True, metadata={"description": "Exclusive: the UTC hours that begin before it."}
    )
    advertiser_id = Id(load_default=None)
    campaign_id = Id(load_default=None)


class DeliveryRowSchema(StrictSchema):
    advertiser_id = fields.String(required=True)
    id = fields.String(
        required=True,
        attribute="object_id",
        metadata={"description": "The campaign, ad group or ad."},
    )
    period = fields.String(
        required=True,
        metadata={"description": "A date (day) or the UTC hour's start (hour), ISO 8601."},
    )
    impressions = fields.Integer(required=True)
    clicks = fields.Integer(required=True)
    spend_micros = fields.Integer(required=True)
    ctr = fields.Float(allow_none=True, required=True)
    cpm_micros = fields.Integer(allow_none=True, required=True)
    cpc_micros = fields.Integer(allow_none=True, required=True)


class DeliveryReportSchema(StrictSchema):
    level = fields.String(required=True)
    granularity = fields.String(required=True)
    rows = fields.List(fields.Nested(DeliveryRowSchema), required=True)

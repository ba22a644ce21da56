from marshmallow import fields, validate

from adsmanager.api.common import StrictSchema
from adsmanager.vocabulary import AGE_GROUPS, GENDERS, OPERATING_SYSTEMS

OPAQUE = validate.Regexp(
    r"^[A-Za-z0-9._:@/+=-]{1,128}$", error="1 to 128 letters, digits or ._:@/+=-"
)


class AuctionUserSchema(StrictSchema):
    id = fields.String(
        required=True,
        validate=OPAQUE,
        metadata={"description": "A pseudonymous id, stable per viewer."},
    )
    country = fields.String(load_default=None, allow_none=True, validate=validate.Length(equal=2))
    language = fields.String(load_default=None, allow_none=True, validate=validate.Length(equal=2))
    age_group = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(AGE_GROUPS)
    )
    gender = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(GENDERS))
    os = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(OPERATING_SYSTEMS)
    )
    interests = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=100),
    )


class FeedItemSchema(StrictSchema):
    video_id = fields.String(required=True, validate=OPAQUE)
    creator_id = fields.String(required=True, validate=OPAQUE)
    category = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )


class AdLoadSchema(StrictSchema):
    first_position = fields.Integer(
        strict=True, metadata={"description": "Organic items before the first ad."}
    )
    min_gap = fields.Integer(
        strict=True, metadata={"description": "Fewest organic items between two ads."}
    )
    max_ads = fields.Integer(strict=True, metadata={"description": "Most ads in this page."})


class AuctionRequestSchema(StrictSchema):
    request_id = fields.String(required=True, validate=OPAQUE)
    user = fields.Nested(AuctionUserSchema, required=True)
    feed = fields.List(
        fields.Nested(FeedItemSchema),
        required=True,
        validate=validate.Length(max=200),
        metadata={"description": "The organic ranked feed, best first."},
    )
    ad_load = fields.Nested(
        AdLoadSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "Overrides of the platform's ad-load policy, within its limits."},
    )


class CreativeOutSchema(StrictSchema):
    video_url = fields.String(allow_none=True, required=True)
    video_id = fields.String(allow_none=True, required=True)
    caption = fields.String(required=True)
    call_to_action = fields.String(required=True)
    landing_url = fields.String(required=True)
    display_name = fields.String(required=True)


class TrackingSchema(StrictSchema):
    impression = fields.String(
        required=True, metadata={"description": "Report with POST /v1/events when the ad is shown."}
    )
    click = fields.String(
        required=True,
        metadata={"description": "Report with POST /v1/events when the ad is clicked."},
    )


class BlendedItemSchema(StrictSchema):
    """An organic item (type organic) or an inserted ad (type ad)."""

    type = fields.String(required=True, validate=validate.OneOf(["organic", "ad"]))
    position = fields.Integer(required=True)
    video_id = fields.String(metadata={"description": "Organic items."})
    creator_id = fields.String(metadata={"description": "Organic items."})
    category = fields.String(allow_none=True, metadata={"description": "Organic items."})
    impression_id = fields.String(metadata={"description": "Ads."})
    ad_id = fields.String()
    ad_group_id = fields.String()
    campaign_id = fields.String()
    advertiser_id = fields.String()
    creative = fields.Nested(CreativeOutSchema)
    billing_event = fields.String(validate=validate.OneOf(["CPM", "CPC"]))
    price_micros = fields.Integer(
        metadata={"description": "What one impression (CPM) or one click (CPC) of this ad costs."}
    )
    pctr = fields.Float()
    ecpm_micros = fields.Integer()
    tracking = fields.Nested(TrackingSchema)


class AuctionResponseSchema(StrictSchema):
    request_id = fields.String(required=True)
    model_version = fields.String(required=True)
    items = fields.List(fields.Nested(BlendedItemSchema), required=True)

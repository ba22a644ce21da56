from marshmallow import fields, validate

from adsmanager.api.campaigns.schemas import EDITABLE_STATUS, STATUS_DOC
from adsmanager.api.common import Id, Name, PageArgs, StrictSchema
from adsmanager.vocabulary import CallToAction, ReviewDecision, ReviewStatus, Status

WEB_URL = validate.URL(schemes={"http", "https"}, require_tld=True)


class CreativeSchema(StrictSchema):
    video_url = fields.String(
        allow_none=True,
        validate=[validate.Length(max=2048), WEB_URL],
        metadata={"description": "Exactly one of video_url and video_id."},
    )
    video_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=128))
    caption = fields.String(validate=validate.Length(min=1, max=2200))
    call_to_action = fields.Enum(CallToAction, by_value=True)
    landing_url = fields.String(validate=[validate.Length(max=2048), WEB_URL])
    display_name = fields.String(validate=validate.Length(min=1, max=100))


class NewCreativeSchema(CreativeSchema):
    caption = fields.String(required=True, validate=validate.Length(min=1, max=2200))
    call_to_action = fields.Enum(CallToAction, by_value=True, required=True)
    landing_url = fields.String(required=True, validate=[validate.Length(max=2048), WEB_URL])
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class AdSchema(StrictSchema):
    id = fields.String(required=True)
    advertiser_id = fields.String(required=True)
    campaign_id = fields.String(required=True)
    ad_group_id = fields.String(required=True)
    name = fields.String(required=True)
    creative = fields.Nested(CreativeSchema, required=True)
    creative_version = fields.String(
        required=True,
        metadata={"description": "Changes whenever the creative does: send it with a review."},
    )
    review_status = fields.Enum(ReviewStatus, by_value=True, required=True)
    review_reason = fields.String(allow_none=True, required=True)
    reviewed_at = fields.DateTime(allow_none=True, required=True)
    status = fields.Enum(Status, by_value=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class AdCreateSchema(StrictSchema):
    ad_group_id = Id(required=True)
    name = Name(required=True)
    creative = fields.Nested(NewCreativeSchema, required=True)
    status = fields.Enum(Status, by_value=True, validate=EDITABLE_STATUS, metadata=STATUS_DOC)


class AdUpdateSchema(StrictSchema):
    name = Name()
    creative = fields.Nested(
        CreativeSchema,
        metadata={
            "description": "Fields given replace the stored ones; a changed creative goes back "
            "to review (PENDING)."
        },
    )
    status = fields.Enum(Status, by_value=True, validate=EDITABLE_STATUS, metadata=STATUS_DOC)


class AdReviewSchema(StrictSchema):
    decision = fields.Enum(ReviewDecision, by_value=True, required=True)
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "Required to reject."},
    )
    creative_version = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "The creative_version you looked at. If the creative has changed "
            "since, the review is refused (409 creative_changed) and nothing is recorded."
        },
    )


class AdListArgs(PageArgs):
    advertiser_id = Id(load_default=None)
    campaign_id = Id(load_default=None)
    ad_group_id = Id(load_default=None)
    status = fields.Enum(Status, by_value=True, load_default=None)
    review_status = fields.Enum(ReviewStatus, by_value=True, load_default=None)

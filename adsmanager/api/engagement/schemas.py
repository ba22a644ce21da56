from marshmallow import fields, validate

from adsmanager.api.common import FullMatch, StrictSchema
from adsmanager.services.creators import MAX_COUNT, PLATFORM_ID_PATTERN
from adsmanager.services.engagement import STATUSES

MAX_ITEMS = 1000


def _platform_id(description: str) -> fields.String:
    return fields.String(
        required=True,
        validate=FullMatch(
            PLATFORM_ID_PATTERN, error="Must be 1 to 64 characters of [A-Za-z0-9_.:-]."
        ),
        metadata={"description": description},
    )


def _count(description: str, **kwargs) -> fields.Integer:
    kwargs.setdefault("required", True)
    return fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=MAX_COUNT),
        metadata={"description": description},
        **kwargs,
    )


class EngagementItemSchema(StrictSchema):
    creator_id = _platform_id("The creator, registered with PUT /v1/creators/{creator_id}.")
    video_id = _platform_id("The platform's video id; a video belongs to one creator.")
    day = fields.Date(
        required=True, metadata={"description": "The day (UTC); no later than tomorrow."}
    )
    views = _count("All views.")
    qualified_views = _count("Views watched for at least 5 s and not by the creator.")
    invalid_views = _count(
        "Of the qualified views, those flagged as invalid traffic.", load_default=0, required=False
    )
    invalid_traffic = fields.Boolean(
        truthy={True},
        falsy={False},
        load_default=False,
        metadata={"description": "The whole video-day is invalid traffic: nothing counts."},
    )
    watch_time_seconds = _count("Total watch time.")
    likes = _count("Likes.")
    comments = _count("Comments.")
    shares = _count("Shares.")


class EngagementBatchSchema(StrictSchema):
    items = fields.List(
        fields.Nested(EngagementItemSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_ITEMS),
    )


class EngagementResultSchema(StrictSchema):
    index = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "For invalid items: unknown_creator, "
            "video_belongs_to_another_creator, duplicate_in_batch, invalid_counts, "
            "day_in_future."
        },
    )
    message = fields.String(allow_none=True, required=True)


class EngagementBatchResultSchema(StrictSchema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    invalid = fields.Integer(required=True)
    results = fields.List(fields.Nested(EngagementResultSchema), required=True)

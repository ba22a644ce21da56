from marshmallow import fields, validate

from adsmanager.api.common import StrictSchema

MAX_EVENTS = 1000


class EventInSchema(StrictSchema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={
            "description": "A tracking token from the auction response (impression or click)."
        },
    )


class EventBatchSchema(StrictSchema):
    events = fields.List(
        fields.Nested(EventInSchema), required=True, validate=validate.Length(min=1, max=MAX_EVENTS)
    )


class EventResultSchema(StrictSchema):
    index = fields.Integer(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(["accepted", "duplicate", "invalid"])
    )
    reason = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "For invalid events: malformed, bad_signature or expired."},
    )
    event_type = fields.String(allow_none=True, required=True)
    impression_id = fields.String(allow_none=True, required=True)
    charged_micros = fields.Integer(required=True)


class EventBatchResultSchema(StrictSchema):
    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    invalid = fields.Integer(required=True)
    results = fields.List(fields.Nested(EventResultSchema), required=True)

from marshmallow import fields

from adsmanager.api.common import Id, Name, PageArgs, StrictSchema, attributes
from adsmanager.vocabulary import Role


class ApiKeySchema(StrictSchema):
    id = fields.String(required=True)
    prefix = fields.String(required=True, metadata={"description": "Public part of the key."})
    role = fields.Enum(Role, by_value=True, required=True)
    advertiser_id = fields.String(allow_none=True, required=True)
    name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    created_by = fields.String(allow_none=True, required=True)
    last_used_at = fields.DateTime(allow_none=True, required=True)
    revoked_at = fields.DateTime(allow_none=True, required=True)


class IssuedApiKeySchema(ApiKeySchema):
    key = fields.String(
        required=True,
        metadata={"description": "The whole key. Shown only in this response: store it now."},
    )


class ApiKeyCreateSchema(StrictSchema):
    role = fields.Enum(Role, by_value=True, required=True)
    advertiser_id = Id(
        load_default=None,
        metadata={
            "description": "Required for the advertiser role; advertisers' own keys default "
            "to their advertiser."
        },
    )
    name = Name(required=True)


class ApiKeyListArgs(PageArgs):
    role = fields.Enum(Role, by_value=True, load_default=None)
    advertiser_id = Id(load_default=None)


def issued(issued_key) -> dict:
    """The stored key plus its secret, for the one response that shows it."""
    return attributes(issued_key.record, ApiKeySchema, key=issued_key.secret)

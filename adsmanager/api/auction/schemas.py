from marshmallow import RAISE, fields, validate

from adsmanager.api.common import FullMatch, StrictSchema
from adsmanager.vocabulary import AGE_GROUPS, GENDERS, OPERATING_SYSTEMS

OPAQUE = FullMatch(r"^[A-Za-z0-9._:@/+=-]{1,128}$", error="1 to 128 letters, digits or ._:@/+=-")


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
    timezone = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "The viewer's IANA time zone: the CTR model reads the hour and "
            "weekday on their clock there (in UTC when it is not given).",
            "example": "Europe/Berlin",
        },
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
    """Loading is the auction's hot path: a well-formed request takes a hand-written check
    (``fast_load``) that accepts only what this schema accepts and returns what it returns;
    anything else (an error, an unusual but valid input) goes through marshmallow."""

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

    def load(self, data, *, many=None, partial=None, unknown=None):
        if many is None and partial is None and unknown in (None, RAISE):
            loaded = fast_load(data)
            if loaded is not None:
                return loaded
        return super().load(data, many=many, partial=partial, unknown=unknown)


# What fast_load accepts, field by field, mirrors the schemas above; a test holds it to
# them (tests/api/test_auction_schemas.py).
_OPAQUE_MATCH = OPAQUE.regex.fullmatch  # as FullMatch does: "$" alone allows a final "\n"
_REQUEST_KEYS = frozenset(("request_id", "user", "feed", "ad_load"))
_USER_KEYS = frozenset(
    ("id", "country", "language", "age_group", "gender", "os", "interests", "timezone")
)
_FEED_KEYS = frozenset(("video_id", "creator_id", "category"))
_AD_LOAD_KEYS = frozenset(("first_position", "min_gap", "max_ads"))


def _storable(value: str) -> bool:
    """What StrictSchema's pre_load accepts: no NUL, encodable as UTF-8."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _opaque(value) -> bool:
    return type(value) is str and _OPAQUE_MATCH(value) is not None


def _text(value, low: int, high: int) -> bool:
    return type(value) is str and low <= len(value) <= high and _storable(value)


def _one_of(value, choices: tuple[str, ...]) -> bool:
    return value is None or (type(value) is str and value in choices)


def fast_load(data) -> dict | None:
    """The request as ``AuctionRequestSchema().load`` returns it, or None when this check
    cannot vouch for it (the schema then decides, and reports any error)."""
    if type(data) is not dict or not _REQUEST_KEYS.issuperset(data):
        return None
    user, feed = data.get("user"), data.get("feed")
    request_id = data.get("request_id")
    if not _opaque(request_id) or type(user) is not dict or type(feed) is not list:
        return None
    if not _USER_KEYS.issuperset(user) or not _opaque(user.get("id")):
        return None
    country, language = user.get("country"), user.get("language")
    if not (country is None or _text(country, 2, 2)):
        return None
    if not (language is None or _text(language, 2, 2)):
        return None
    age_group, gender, os = user.get("age_group"), user.get("gender"), user.get("os")
    if not (
        _one_of(age_group, AGE_GROUPS)
        and _one_of(gender, GENDERS)
        and _one_of(os, OPERATING_SYSTEMS)
    ):
        return None
    interests = user.get("interests", [])
    if type(interests) is not list or len(interests) > 100:
        return None
    if not all(_text(interest, 1, 64) for interest in interests):
        return None
    timezone = user.get("timezone")
    if not (timezone is None or _text(timezone, 1, 64)):
        return None
    if len(feed) > 200:
        return None
    items = []
    for item in feed:
        if type(item) is not dict or not _FEED_KEYS.issuperset(item):
            return None
        video_id, creator_id = item.get("video_id"), item.get("creator_id")
        category = item.get("category")
        if not (_opaque(video_id) and _opaque(creator_id)):
            return None
        if not (category is None or _text(category, 1, 64)):
            return None
        items.append({"video_id": video_id, "creator_id": creator_id, "category": category})
    ad_load = data.get("ad_load")
    if ad_load is not None:
        if type(ad_load) is not dict or not _AD_LOAD_KEYS.issuperset(ad_load):
            return None
        if not all(type(value) is int for value in ad_load.values()):
            return None
        ad_load = dict(ad_load)
    return {
        "request_id": request_id,
        "user": {
            "id": user["id"],
            "country": country,
            "language": language,
            "age_group": age_group,
            "gender": gender,
            "os": os,
            "interests": list(interests),
            "timezone": timezone,
        },
        "feed": items,
        "ad_load": ad_load,
    }


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
    pctr = fields.Float(
        metadata={
            "description": "The predicted click-through rate of this ad at the position "
            "where it is shown."
        }
    )
    ecpm_micros = fields.Integer(
        metadata={
            "description": "What this ad is worth per 1000 impressions at the position "
            "where it is shown."
        }
    )
    tracking = fields.Nested(TrackingSchema)


class AuctionResponseSchema(StrictSchema):
    request_id = fields.String(required=True)
    model_version = fields.String(required=True)
    items = fields.List(fields.Nested(BlendedItemSchema), required=True)

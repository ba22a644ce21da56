from marshmallow import fields, validate

from adsmanager.api.campaigns.schemas import EDITABLE_STATUS, STATUS_DOC
from adsmanager.api.common import Id, Micros, Name, PageArgs, StrictSchema
from adsmanager.vocabulary import AGE_GROUPS, BillingEvent, BudgetMode, Pacing, Status, Weekday


def _codes(description: str, max_items: int = 300, max_length: int = 64) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=max_length)),
        validate=validate.Length(max=max_items),
        load_default=list,
        metadata={"description": description + " Empty means everyone."},
    )


class TargetingSchema(StrictSchema):
    countries = _codes("ISO 3166-1 alpha-2 codes, upper case.")
    languages = _codes("ISO 639-1 codes, lower case.")
    age_groups = _codes(f"Any of {', '.join(AGE_GROUPS)}.")
    genders = _codes("Any of female, male, other.")
    os = _codes("Any of android, ios.")
    interests = _codes("Interest category slugs.")
    excluded_categories = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(max=300),
        load_default=list,
        metadata={"description": "Brand safety: never placed next to content of these categories."},
    )
    excluded_creators = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(max=10_000),
        load_default=list,
        metadata={"description": "Brand safety: never placed next to these creators' videos."},
    )


class FrequencyCapSchema(StrictSchema):
    max_impressions = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=1000)
    )
    window_hours = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=720)
    )


class DaypartWindowSchema(StrictSchema):
    days = fields.List(
        fields.String(validate=validate.OneOf([day.value for day in Weekday])),
        required=True,
        validate=validate.Length(min=1, max=7),
    )
    start_hour = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=23))
    end_hour = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1, max=24),
        metadata={"description": "Exclusive: 24 means until midnight."},
    )


DAYPARTING_DOC = {
    "description": "Hours to serve in, in the advertiser's time zone; null serves at all hours."
}


class AdGroupSchema(StrictSchema):
    id = fields.String(required=True)
    advertiser_id = fields.String(required=True)
    campaign_id = fields.String(required=True)
    name = fields.String(required=True)
    billing_event = fields.Enum(BillingEvent, by_value=True, required=True)
    bid_micros = fields.Integer(required=True)
    budget_mode = fields.Enum(BudgetMode, by_value=True, allow_none=True, required=True)
    budget_micros = fields.Integer(allow_none=True, required=True)
    pacing = fields.Enum(Pacing, by_value=True, required=True)
    frequency_cap = fields.Nested(FrequencyCapSchema, allow_none=True, required=True)
    dayparting = fields.List(fields.Nested(DaypartWindowSchema), allow_none=True, required=True)
    targeting = fields.Nested(TargetingSchema, required=True)
    status = fields.Enum(Status, by_value=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


BID_DOC = {"description": "Per 1000 impressions for CPM, per click for CPC."}


class AdGroupCreateSchema(StrictSchema):
    campaign_id = Id(required=True)
    name = Name(required=True)
    billing_event = fields.Enum(BillingEvent, by_value=True, required=True)
    bid_micros = Micros(required=True, metadata=BID_DOC)
    budget_mode = fields.Enum(BudgetMode, by_value=True, allow_none=True, load_default=None)
    budget_micros = Micros(
        allow_none=True,
        load_default=None,
        metadata={"description": "Optional own budget, with budget_mode."},
    )
    pacing = fields.Enum(Pacing, by_value=True, load_default=Pacing.STANDARD)
    frequency_cap = fields.Nested(FrequencyCapSchema, allow_none=True, load_default=None)
    dayparting = fields.List(
        fields.Nested(DaypartWindowSchema),
        allow_none=True,
        validate=validate.Length(max=50),
        load_default=None,
        metadata=DAYPARTING_DOC,
    )
    targeting = fields.Nested(TargetingSchema, load_default=dict)
    status = fields.Enum(Status, by_value=True, validate=EDITABLE_STATUS, metadata=STATUS_DOC)


class AdGroupUpdateSchema(StrictSchema):
    """The campaign and the billing event are fixed at creation. A targeting given here
    replaces the whole targeting."""

    name = Name()
    bid_micros = Micros(metadata=BID_DOC)
    budget_mode = fields.Enum(BudgetMode, by_value=True, allow_none=True)
    budget_micros = Micros(allow_none=True)
    pacing = fields.Enum(Pacing, by_value=True)
    frequency_cap = fields.Nested(FrequencyCapSchema, allow_none=True)
    dayparting = fields.List(
        fields.Nested(DaypartWindowSchema),
        allow_none=True,
        validate=validate.Length(max=50),
        metadata=DAYPARTING_DOC,
    )
    targeting = fields.Nested(TargetingSchema)
    status = fields.Enum(Status, by_value=True, validate=EDITABLE_STATUS, metadata=STATUS_DOC)


class AdGroupListArgs(PageArgs):
    advertiser_id = Id(load_default=None)
    campaign_id = Id(load_default=None)
    status = fields.Enum(Status, by_value=True, load_default=None)

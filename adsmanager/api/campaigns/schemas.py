from marshmallow import fields, validate

from adsmanager.api.common import Id, Micros, Name, PageArgs, StrictSchema, Timestamp
from adsmanager.vocabulary import BudgetMode, Objective, Status

EDITABLE_STATUS = validate.OneOf([Status.ACTIVE, Status.PAUSED])
STATUS_DOC = {"description": "ACTIVE or PAUSED; archive with POST .../archive."}


class CampaignSchema(StrictSchema):
    id = fields.String(required=True)
    advertiser_id = fields.String(required=True)
    name = fields.String(required=True)
    objective = fields.Enum(Objective, by_value=True, required=True)
    budget_mode = fields.Enum(BudgetMode, by_value=True, required=True)
    budget_micros = fields.Integer(required=True)
    start_time = fields.DateTime(required=True)
    end_time = fields.DateTime(allow_none=True, required=True)
    status = fields.Enum(Status, by_value=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class CampaignCreateSchema(StrictSchema):
    advertiser_id = Id(
        metadata={
            "description": "Required for admins; advertisers' keys default to their own advertiser."
        }
    )
    name = Name(required=True)
    objective = fields.Enum(Objective, by_value=True, required=True)
    budget_mode = fields.Enum(BudgetMode, by_value=True, required=True)
    budget_micros = Micros(
        required=True,
        metadata={
            "description": "Per day (DAILY, in the advertiser's time zone) or in total (LIFETIME)."
        },
    )
    start_time = Timestamp(metadata={"description": "Defaults to now."})
    end_time = Timestamp(allow_none=True)
    status = fields.Enum(Status, by_value=True, validate=EDITABLE_STATUS, metadata=STATUS_DOC)


class CampaignUpdateSchema(StrictSchema):
    """Objective and budget mode are fixed at creation."""

    name = Name()
    budget_micros = Micros()
    start_time = Timestamp()
    end_time = Timestamp(allow_none=True)
    status = fields.Enum(Status, by_value=True, validate=EDITABLE_STATUS, metadata=STATUS_DOC)


class CampaignListArgs(PageArgs):
    advertiser_id = Id(load_default=None)
    status = fields.Enum(Status, by_value=True, load_default=None)

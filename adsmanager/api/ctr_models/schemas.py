from marshmallow import fields

from adsmanager.api.common import PageArgs, StrictSchema, Timestamp
from adsmanager.services.model_reports import staleness_seconds
from adsmanager.vocabulary import ModelStatus


class CtrModelSchema(StrictSchema):
    id = fields.String(required=True)
    version = fields.String(
        required=True, metadata={"description": "The model_version that auction responses name."}
    )
    status = fields.Enum(ModelStatus, by_value=True, required=True)
    feature_spec_hash = fields.String(required=True)
    num_trees = fields.Integer(required=True)
    trained_from = fields.DateTime(allow_none=True, required=True)
    trained_to = fields.DateTime(allow_none=True, required=True)
    training_rows = fields.Integer(required=True)
    staleness_seconds = fields.Method(
        "_staleness",
        metadata={
            "type": "integer",
            "nullable": True,
            "description": "How old the newest impression it was trained on is, in seconds.",
        },
    )
    metrics = fields.Dict(
        required=True,
        metadata={
            "description": "The evaluation on held-out rows: AUC, log loss, normalized entropy, "
            "calibration ratio overall and by position, billing event and new/established ad "
            "group, for the model, the constant prior and the model active at training time."
        },
    )
    created_at = fields.DateTime(required=True)
    created_by = fields.String(allow_none=True, required=True)
    activated_at = fields.DateTime(allow_none=True, required=True)
    activated_by = fields.String(allow_none=True, required=True)
    retired_at = fields.DateTime(allow_none=True, required=True)

    def _staleness(self, model) -> int | None:
        return staleness_seconds(model)


class CtrModelListArgs(PageArgs):
    status = fields.Enum(ModelStatus, by_value=True, load_default=None)


class ReplayArgs(StrictSchema):
    since = Timestamp(load_default=None, metadata={"description": "Window start."})
    until = Timestamp(load_default=None, metadata={"description": "Window end (excluded)."})


class PolicyOutcomeSchema(StrictSchema):
    revenue_micros = fields.Float(
        required=True,
        metadata={"description": "Expected, not charged: CPC prices times estimated clicks."},
    )
    clicks = fields.Float(required=True)
    impressions = fields.Integer(required=True)


class ReplaySchema(StrictSchema):
    model_id = fields.String(required=True)
    active_model_id = fields.String(required=True)
    auctions = fields.Integer(required=True)
    changed_auctions = fields.Integer(required=True)
    active = fields.Nested(PolicyOutcomeSchema, required=True)
    candidate = fields.Nested(PolicyOutcomeSchema, required=True)
    revenue_change = fields.Float(allow_none=True, required=True)
    clicks_change = fields.Float(allow_none=True, required=True)

from fractions import Fraction

from marshmallow import fields, validate

from adsmanager.api.common import PageArgs, StrictSchema
from adsmanager.services.fund_reports import decimal_micros
from adsmanager.services.payout_runs import transfer_group_of
from adsmanager.vocabulary import PayoutLineStatus


class ComputeSchema(StrictSchema):
    period = fields.String(
        required=True,
        validate=validate.Length(min=7, max=10),
        metadata={"description": "A day (YYYY-MM-DD) or a month (YYYY-MM), in UTC."},
    )


class RunSchema(StrictSchema):
    id = fields.String(required=True)
    period_kind = fields.String(required=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True, metadata={"description": "Inclusive."})
    status = fields.String(required=True)
    rules_version = fields.Integer(required=True)
    currency = fields.String(required=True)
    revenue_micros = fields.Integer(required=True)
    pool_micros = fields.Integer(required=True)
    distributed_micros = fields.Integer(required=True)
    rate_micros_per_weight = fields.Function(
        lambda run: decimal_micros(Fraction(run.rate), 9),
        required=True,
        metadata={"description": "Micros per unit of weight for creators below the cap."},
    )
    cap_micros = fields.Integer(allow_none=True, required=True)
    transfer_group = fields.Function(transfer_group_of, required=True)
    totals = fields.Dict(required=True)
    computed_at = fields.DateTime(required=True)
    computed_by = fields.String(allow_none=True, required=True)
    approved_at = fields.DateTime(allow_none=True, required=True)
    approved_by = fields.String(allow_none=True, required=True)
    paid_at = fields.DateTime(allow_none=True, required=True)


class ClawbackSchema(StrictSchema):
    run_id = fields.String(required=True)
    weight_paid = fields.Integer(required=True)
    weight_now = fields.Integer(required=True)
    micros = fields.Integer(required=True)


def _exact(line) -> Fraction:
    return Fraction(line.exact_share)


class LineSchema(StrictSchema):
    creator_id = fields.String(required=True)
    status = fields.String(required=True)
    eligible = fields.Function(lambda line: not line.exclusions, required=True)
    exclusions = fields.List(fields.String(), required=True)
    qualified_views = fields.Integer(required=True)
    interactions = fields.Integer(required=True)
    trailing_qualified_views = fields.Integer(required=True)
    weight = fields.Integer(required=True)
    exact_share_micros = fields.Function(
        lambda line: decimal_micros(_exact(line)),
        required=True,
        metadata={"description": "Before rounding, as a decimal with 6 places."},
    )
    capped = fields.Boolean(required=True)
    share_micros = fields.Integer(required=True)
    rounding_micros = fields.Function(
        lambda line: decimal_micros(line.share_micros - _exact(line)), required=True
    )
    carried_in_micros = fields.Integer(required=True)
    carried_from = fields.Function(
        lambda line: (line.details or {}).get("carried_from", []), required=True
    )
    clawback_micros = fields.Integer(required=True)
    clawbacks = fields.Function(
        lambda line: (line.details or {}).get("clawbacks", []), required=True
    )
    payable_micros = fields.Integer(required=True)
    carried_out_micros = fields.Integer(required=True)
    carried_to_run_id = fields.String(allow_none=True, required=True)
    stripe_account_id = fields.String(allow_none=True, required=True)
    stripe_transfer_id = fields.String(allow_none=True, required=True)
    failure_reason = fields.String(allow_none=True, required=True)
    paid_at = fields.DateTime(allow_none=True, required=True)


class ExplainedLineSchema(LineSchema):
    explanation = fields.List(fields.String(), required=True)


class LineListArgs(PageArgs):
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in PayoutLineStatus])
    )


class ExportArgs(StrictSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv"]))


class PayResultSchema(StrictSchema):
    run = fields.Nested(RunSchema, required=True)
    paid = fields.Integer(required=True, metadata={"description": "Lines paid by this call."})
    failed = fields.Integer(required=True)


class DistributionSchema(StrictSchema):
    creators_paid = fields.Integer(required=True)
    gini = fields.Float(required=True)
    min_micros = fields.Integer(required=True)
    median_micros = fields.Integer(required=True)
    p90_micros = fields.Integer(required=True)
    p99_micros = fields.Integer(required=True)
    max_micros = fields.Integer(required=True)


class ReportSchema(StrictSchema):
    run_id = fields.String(required=True)
    status = fields.String(required=True)
    currency = fields.String(required=True)
    pool_micros = fields.Integer(required=True)
    distributed_micros = fields.Integer(required=True)
    totals = fields.Dict(required=True)
    distribution = fields.Nested(DistributionSchema, required=True)

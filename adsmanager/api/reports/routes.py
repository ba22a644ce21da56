from flask.views import MethodView

from adsmanager.api.auth import actor
from adsmanager.api.common import Blueprint, database
from adsmanager.api.reports.schemas import DeliveryArgs, DeliveryReportSchema
from adsmanager.services import reports
from adsmanager.vocabulary import Role

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/v1/reports",
    description="Delivery: impressions, clicks, spend.",
)


@blp.route("/delivery")
class Delivery(MethodView):
    @blp.requires(Role.ADMIN, Role.ADVERTISER, Role.FINANCE)
    @blp.arguments(DeliveryArgs, location="query")
    @blp.response(200, DeliveryReportSchema)
    def get(self, args):
        """Impressions, clicks, spend, CTR, CPM and CPC by campaign, ad group or ad, per day
        or hour. Advertisers see only their own."""
        rows = reports.delivery(database(), actor(), **args)
        return {
            "level": args["level"],
            "granularity": args["granularity"],
            "rows": [
                {
                    **vars(row),
                    "period": row.period.isoformat(),
                    "ctr": row.ctr,
                    "cpm_micros": row.cpm_micros,
                    "cpc_micros": row.cpc_micros,
                }
                for row in rows
            ],
        }

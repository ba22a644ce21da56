from flask.views import MethodView

from adsmanager.api.auth import actor
from adsmanager.api.campaigns.schemas import (
    CampaignCreateSchema,
    CampaignListArgs,
    CampaignSchema,
    CampaignUpdateSchema,
)
from adsmanager.api.common import Blueprint, database, page_of
from adsmanager.services import campaigns
from adsmanager.vocabulary import Role

blp = Blueprint(
    "campaigns",
    __name__,
    url_prefix="/v1/campaigns",
    description="Campaigns: objective, budget and flight dates.",
)
MANAGERS = (Role.ADMIN, Role.ADVERTISER)


@blp.route("")
class Campaigns(MethodView):
    @blp.requires(*MANAGERS)
    @blp.arguments(CampaignCreateSchema)
    @blp.response(201, CampaignSchema)
    def post(self, data):
        """Create a campaign."""
        return campaigns.create(database(), actor(), data)

    @blp.requires(*MANAGERS)
    @blp.arguments(CampaignListArgs, location="query")
    @blp.response(200, page_of(CampaignSchema))
    def get(self, args):
        """List campaigns, oldest first."""
        return campaigns.list_campaigns(database(), actor(), **args)


@blp.route("/<campaign_id>")
class CampaignById(MethodView):
    @blp.requires(*MANAGERS)
    @blp.response(200, CampaignSchema)
    def get(self, campaign_id):
        """Get a campaign."""
        return campaigns.get(database(), actor(), campaign_id)

    @blp.requires(*MANAGERS)
    @blp.arguments(CampaignUpdateSchema)
    @blp.response(200, CampaignSchema)
    def patch(self, data, campaign_id):
        """Change the fields given; archived campaigns cannot change (409)."""
        return campaigns.update_campaign(database(), actor(), campaign_id, data)


@blp.route("/<campaign_id>/archive")
class ArchiveCampaign(MethodView):
    @blp.requires(*MANAGERS)
    @blp.response(200, CampaignSchema)
    def post(self, campaign_id):
        """Archive the campaign with its ad groups and ads. This cannot be undone."""
        return campaigns.archive(database(), actor(), campaign_id)

from flask.views import MethodView

from adsmanager.api.ad_groups.schemas import (
    AdGroupCreateSchema,
    AdGroupListArgs,
    AdGroupSchema,
    AdGroupUpdateSchema,
)
from adsmanager.api.auth import actor
from adsmanager.api.common import Blueprint, database, page_of
from adsmanager.services import ad_groups
from adsmanager.vocabulary import Role

blp = Blueprint(
    "ad_groups",
    __name__,
    url_prefix="/v1/ad-groups",
    description="Ad groups: targeting, bid, budget, pacing, frequency cap.",
)
MANAGERS = (Role.ADMIN, Role.ADVERTISER)


@blp.route("")
class AdGroups(MethodView):
    @blp.requires(*MANAGERS)
    @blp.arguments(AdGroupCreateSchema)
    @blp.response(201, AdGroupSchema)
    def post(self, data):
        """Create an ad group in a campaign."""
        return ad_groups.create(database(), actor(), data)

    @blp.requires(*MANAGERS)
    @blp.arguments(AdGroupListArgs, location="query")
    @blp.response(200, page_of(AdGroupSchema))
    def get(self, args):
        """List ad groups, oldest first."""
        return ad_groups.list_ad_groups(database(), actor(), **args)


@blp.route("/<ad_group_id>")
class AdGroupById(MethodView):
    @blp.requires(*MANAGERS)
    @blp.response(200, AdGroupSchema)
    def get(self, ad_group_id):
        """Get an ad group."""
        return ad_groups.get(database(), actor(), ad_group_id)

    @blp.requires(*MANAGERS)
    @blp.arguments(AdGroupUpdateSchema)
    @blp.response(200, AdGroupSchema)
    def patch(self, data, ad_group_id):
        """Change the fields given; archived ad groups cannot change (409)."""
        return ad_groups.update_ad_group(database(), actor(), ad_group_id, data)


@blp.route("/<ad_group_id>/archive")
class ArchiveAdGroup(MethodView):
    @blp.requires(*MANAGERS)
    @blp.response(200, AdGroupSchema)
    def post(self, ad_group_id):
        """Archive the ad group with its ads. This cannot be undone."""
        return ad_groups.archive(database(), actor(), ad_group_id)

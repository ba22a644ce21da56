from flask.views import MethodView

from adsmanager.api.ads.schemas import (
    AdCreateSchema,
    AdListArgs,
    AdReviewSchema,
    AdSchema,
    AdUpdateSchema,
)
from adsmanager.api.auth import actor
from adsmanager.api.common import Blueprint, database, page_of
from adsmanager.services import ads
from adsmanager.vocabulary import Role

blp = Blueprint(
    "ads",
    __name__,
    url_prefix="/v1/ads",
    description="Ads: creatives and their review. Only approved ads serve.",
)
MANAGERS = (Role.ADMIN, Role.ADVERTISER)


@blp.route("")
class Ads(MethodView):
    @blp.requires(*MANAGERS)
    @blp.arguments(AdCreateSchema)
    @blp.response(201, AdSchema)
    def post(self, data):
        """Create an ad; it waits for review (PENDING)."""
        return ads.create(database(), actor(), data)

    @blp.requires(*MANAGERS)
    @blp.arguments(AdListArgs, location="query")
    @blp.response(200, page_of(AdSchema))
    def get(self, args):
        """List ads, oldest first. Admins list review_status=PENDING as the review queue."""
        return ads.list_ads(database(), actor(), **args)


@blp.route("/<ad_id>")
class AdById(MethodView):
    @blp.requires(*MANAGERS)
    @blp.response(200, AdSchema)
    def get(self, ad_id):
        """Get an ad."""
        return ads.get(database(), actor(), ad_id)

    @blp.requires(*MANAGERS)
    @blp.arguments(AdUpdateSchema)
    @blp.response(200, AdSchema)
    def patch(self, data, ad_id):
        """Change the fields given; archived ads cannot change (409)."""
        return ads.update_ad(database(), actor(), ad_id, data)


@blp.route("/<ad_id>/archive")
class ArchiveAd(MethodView):
    @blp.requires(*MANAGERS)
    @blp.response(200, AdSchema)
    def post(self, ad_id):
        """Archive the ad. This cannot be undone."""
        return ads.archive(database(), actor(), ad_id)


@blp.route("/<ad_id>/review")
class ReviewAd(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.arguments(AdReviewSchema)
    @blp.response(200, AdSchema)
    def post(self, data, ad_id):
        """Approve or reject an ad (rejecting needs a reason)."""
        return ads.review(
            database(),
            actor(),
            ad_id,
            data["decision"],
            data["reason"],
            creative_version=data["creative_version"],
        )

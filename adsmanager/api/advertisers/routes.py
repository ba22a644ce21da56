from flask.views import MethodView

from adsmanager.api.advertisers.schemas import (
    AdvertiserCreatedSchema,
    AdvertiserCreateSchema,
    AdvertiserListArgs,
    AdvertiserSchema,
    AdvertiserUpdateSchema,
)
from adsmanager.api.api_keys.schemas import issued
from adsmanager.api.auth import actor
from adsmanager.api.common import Blueprint, attributes, database, page_of
from adsmanager.services import advertisers
from adsmanager.vocabulary import Role

blp = Blueprint(
    "advertisers",
    __name__,
    url_prefix="/v1/advertisers",
    description="Advertisers: the accounts that buy ads.",
)
READERS = (Role.ADMIN, Role.ADVERTISER, Role.FINANCE)


@blp.route("")
class Advertisers(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.arguments(AdvertiserCreateSchema)
    @blp.response(201, AdvertiserCreatedSchema)
    def post(self, data):
        """Create an advertiser; the response carries its first API key."""
        advertiser, key = advertisers.create(database(), actor(), **data)
        return attributes(advertiser, AdvertiserSchema, api_key=issued(key))

    @blp.requires(*READERS)
    @blp.arguments(AdvertiserListArgs, location="query")
    @blp.response(200, page_of(AdvertiserSchema))
    def get(self, args):
        """List advertisers (an advertiser's key sees only its own)."""
        return advertisers.list_advertisers(database(), actor(), **args)


@blp.route("/<advertiser_id>")
class AdvertiserById(MethodView):
    @blp.requires(*READERS)
    @blp.response(200, AdvertiserSchema)
    def get(self, advertiser_id):
        """Get an advertiser."""
        return advertisers.get(database(), actor(), advertiser_id)

    @blp.requires(Role.ADMIN)
    @blp.arguments(AdvertiserUpdateSchema)
    @blp.response(200, AdvertiserSchema)
    def patch(self, data, advertiser_id):
        """Change name, time zone or status. The currency never changes."""
        return advertisers.update_advertiser(database(), actor(), advertiser_id, data)


@blp.route("/<advertiser_id>/archive")
class ArchiveAdvertiser(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.response(200, AdvertiserSchema)
    def post(self, advertiser_id):
        """Archive the advertiser with all its campaigns, ad groups and ads."""
        return advertisers.archive(database(), actor(), advertiser_id)

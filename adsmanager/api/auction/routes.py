import orjson
from flask import Response
from flask.views import MethodView

from adsmanager.api.auction.schemas import AuctionRequestSchema, AuctionResponseSchema
from adsmanager.api.common import Blueprint, serving
from adsmanager.services import auction
from adsmanager.vocabulary import Role

blp = Blueprint(
    "auction",
    __name__,
    url_prefix="/v1/auction",
    description="The feed service's call: insert priced ads into a feed page.",
)


@blp.route("")
class Auction(MethodView):
    @blp.requires(Role.FEED)
    @blp.arguments(AuctionRequestSchema())
    @blp.response(200, AuctionResponseSchema)
    def post(self, body):
        """Run the auction for one feed page and return the feed with ads inserted."""
        # The service already builds the documented shape; skipping marshmallow's dump saves
        # a good share of the hot path (the schema tests check the shape). The request's
        # strings are valid Unicode (the schema refuses lone surrogates), which orjson needs.
        return Response(orjson.dumps(auction.serve(serving(), body)), mimetype="application/json")

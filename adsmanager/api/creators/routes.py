from flask.views import MethodView

from adsmanager.api.common import Blueprint, database, page_of
from adsmanager.api.creators.schemas import CreatorListArgs, CreatorPutSchema, CreatorSchema
from adsmanager.db.base import utcnow
from adsmanager.services import creators
from adsmanager.vocabulary import Role

blp = Blueprint(
    "creators",
    __name__,
    url_prefix="/v1/creators",
    description="Creators of the creator fund, registered by the platform under its own ids.",
)
READERS = (Role.FEED, Role.ADMIN, Role.FINANCE)


@blp.route("")
class Creators(MethodView):
    @blp.requires(*READERS)
    @blp.arguments(CreatorListArgs, location="query")
    @blp.response(200, page_of(CreatorSchema))
    def get(self, args):
        """Creators in id order, optionally only those of one standing."""
        return creators.list_creators(database(), **args)


@blp.route("/<creator_id>")
class CreatorById(MethodView):
    @blp.requires(*READERS)
    @blp.response(200, CreatorSchema)
    def get(self, creator_id):
        """Get a creator."""
        return creators.get(database(), creator_id)

    @blp.requires(Role.FEED, Role.ADMIN)
    @blp.arguments(CreatorPutSchema)
    @blp.response(200, CreatorSchema, description="The creator was updated (or unchanged).")
    @blp.alt_response(201, schema=CreatorSchema, description="The creator was created.")
    def put(self, data, creator_id):
        """Create or replace a creator under the platform's id (1 to 64 characters of
        A-Z, a-z, 0-9, '_', '.', ':', '-'). Sending the same values again changes nothing."""
        creator, created = creators.put(database(), creator_id, data, utcnow())
        return creator, 201 if created else 200

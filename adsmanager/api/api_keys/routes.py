from flask import current_app
from flask.views import MethodView

from adsmanager.api.api_keys.schemas import (
    ApiKeyCreateSchema,
    ApiKeyListArgs,
    ApiKeySchema,
    IssuedApiKeySchema,
    issued,
)
from adsmanager.api.auth import actor
from adsmanager.api.common import Blueprint, database, page_of
from adsmanager.services import api_keys
from adsmanager.vocabulary import Role

blp = Blueprint(
    "api_keys",
    __name__,
    url_prefix="/v1/api-keys",
    description="API keys. Admins manage all keys; advertisers their own.",
)
MANAGERS = (Role.ADMIN, Role.ADVERTISER)


@blp.route("")
class ApiKeys(MethodView):
    @blp.requires(*MANAGERS)
    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, IssuedApiKeySchema)
    def post(self, data):
        """Create a key; the response is the only time its secret is shown."""
        return issued(api_keys.create(database(), actor(), **data))

    @blp.requires(*MANAGERS)
    @blp.arguments(ApiKeyListArgs, location="query")
    @blp.response(200, page_of(ApiKeySchema))
    def get(self, args):
        """List keys, newest last."""
        return api_keys.list_keys(database(), actor(), **args)


@blp.route("/<key_id>")
class ApiKeyById(MethodView):
    @blp.requires(*MANAGERS)
    @blp.response(200, ApiKeySchema)
    def get(self, key_id):
        """Get a key (never its secret)."""
        return api_keys.get(database(), actor(), key_id)


@blp.route("/<key_id>/revoke")
class RevokeApiKey(MethodView):
    @blp.requires(*MANAGERS)
    @blp.response(200, ApiKeySchema)
    def post(self, key_id):
        """Revoke a key at once. Revoking again changes nothing."""
        revoked = api_keys.revoke(database(), actor(), key_id)
        current_app.extensions["adsmanager.authenticator"].forget()
        return revoked

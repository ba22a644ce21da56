from flask import Response, current_app
from flask.views import MethodView

from adsmanager.api.auth import actor
from adsmanager.api.common import Blueprint, database, page_of
from adsmanager.api.ctr_models.schemas import (
    CtrModelListArgs,
    CtrModelSchema,
    ReplayArgs,
    ReplaySchema,
)
from adsmanager.services import ctr_models, replay
from adsmanager.services.model_reports import reliability_png
from adsmanager.vocabulary import Role
from auction.types import ReservePrices

blp = Blueprint(
    "ctr_models",
    __name__,
    url_prefix="/v1/models",
    description="The CTR model registry: versions, their evaluations, which one serves.",
)


@blp.route("")
class CtrModels(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.arguments(CtrModelListArgs, location="query")
    @blp.response(200, page_of(CtrModelSchema))
    def get(self, args):
        """List model versions, oldest first."""
        return ctr_models.list_models(database(), **args)


@blp.route("/<model_id>")
class CtrModelById(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.response(200, CtrModelSchema)
    def get(self, model_id):
        """Get a model version with its evaluation."""
        return ctr_models.get(database(), model_id)


@blp.route("/<model_id>/activate")
class ActivateCtrModel(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.response(200, CtrModelSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, model_id):
        """Serve this version: every worker swaps it in within seconds, the active one is
        retired. 409 if the artifact cannot be loaded (e.g. another feature spec)."""
        return ctr_models.activate(database(), model_id, by=actor().id)


@blp.route("/<model_id>/replay")
class ReplayCtrModel(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.arguments(ReplayArgs, location="query")
    @blp.response(200, ReplaySchema)
    @blp.alt_response(409, response="CONFLICT")
    def get(self, args, model_id):
        """Before activating: replay the sampled logged auctions of a window with this model
        and with the active one, and compare expected revenue and clicks (both judged by this
        model's pCTR). 409 when no model is active."""
        settings = current_app.extensions["adsmanager.settings"]
        reserves = ReservePrices(settings.reserve_cpm_micros, settings.reserve_cpc_micros)
        return replay.replay_model(database(), model_id, reserves, **args)


@blp.route("/<model_id>/reliability.png")
class ReliabilityDiagram(MethodView):
    @blp.requires(Role.ADMIN)
    @blp.doc(
        responses={
            "200": {"description": "Reliability diagram", "content": {"image/png": {}}},
        }
    )
    def get(self, model_id):
        """The reliability diagram of the held-out evaluation: observed click rate against
        predicted pCTR, for the model, the constant prior and the model it was compared to."""
        return Response(reliability_png(ctr_models.get(database(), model_id)), mimetype="image/png")

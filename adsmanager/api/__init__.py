"""The REST API under /v1, described by OpenAPI and served with interactive docs at /docs."""

from __future__ import annotations

import flask_smorest
from flask import Flask, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import UnsupportedMediaType

from adsmanager.api import errors
from adsmanager.api.ad_groups.routes import blp as ad_groups
from adsmanager.api.ads.routes import blp as ads
from adsmanager.api.advertisers.routes import blp as advertisers
from adsmanager.api.api_keys.routes import blp as api_keys
from adsmanager.api.auction.routes import blp as auction
from adsmanager.api.auth import SECURITY_SCHEME
from adsmanager.api.campaigns.routes import blp as campaigns
from adsmanager.api.creators.routes import blp as creators
from adsmanager.api.ctr_models.routes import blp as ctr_models
from adsmanager.api.engagement.routes import blp as engagement
from adsmanager.api.events.routes import blp as events
from adsmanager.api.fund_rules.routes import blp as fund_rules
from adsmanager.api.funding.routes import blp as funding
from adsmanager.api.ledger.routes import blp as ledger
from adsmanager.api.payout_runs.routes import blp as payout_runs
from adsmanager.api.reports.routes import blp as reports
from adsmanager.api.webhooks.routes import blp as webhooks

BLUEPRINTS = (
    advertisers,
    campaigns,
    ad_groups,
    ads,
    api_keys,
    auction,
    events,
    reports,
    ctr_models,
    funding,
    webhooks,
    ledger,
    fund_rules,
    payout_runs,
    creators,
    engagement,
)
DOCS_ASSETS = "/docs/assets/"

API_DESCRIPTION = (
    "Ads Manager API. Money is integer micros of the advertiser's currency "
    "(1 USD = 1,000,000 micros). Ids are opaque strings; timestamps are ISO 8601 in UTC. "
    'Errors share one shape: `{"code", "message", "fields", "request_id"}`.'
)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = errors.ErrorSchema

    def _register_error_handlers(self) -> None:
        errors.init_app(self._app)


def _require_json_bodies() -> None:
    if request.path.startswith("/v1/") and request.method in {"POST", "PUT", "PATCH"}:
        has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
        if has_body and not request.is_json:
            raise UnsupportedMediaType("Send the request body as application/json.")


def init_app(app: Flask) -> Api:
    app.config.update(
        API_TITLE="adsmanager",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS,
    )
    api = Api(
        app,
        spec_kwargs={
            "info": {"description": API_DESCRIPTION},
            "security": [{"apiKey": []}],
        },
    )
    api.spec.components.security_scheme("apiKey", SECURITY_SCHEME)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.before_request(_require_json_bodies)

    @app.get(DOCS_ASSETS + "<path:filename>")
    def docs_assets(filename: str):
        return send_from_directory(swagger_ui_path, filename, max_age=86400)

    return api

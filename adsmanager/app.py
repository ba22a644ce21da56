"""The application factory's body; ``adsmanager.create_app`` calls it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from adsmanager import api, health, request_ids, web
from adsmanager.config import Settings
from adsmanager.db import Database
from adsmanager.services import api_keys


def build_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    settings = config if isinstance(config, Settings) else Settings.from_env(**(config or {}))
    request_ids.configure_logging(settings.log_level)
    # /readyz reads the migration state on every probe; Alembic would log each look.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    app = Flask("adsmanager")
    app.config.update(
        SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_content_length
    )
    app.json.sort_keys = False
    app.extensions["adsmanager.settings"] = settings
    app.extensions["adsmanager.db"] = database = Database(settings.database_url)
    app.extensions["adsmanager.authenticator"] = api_keys.Authenticator(
        database, timedelta(seconds=settings.key_touch_interval_seconds), settings.key_cache_seconds
    )
    request_ids.init_app(app)
    api.init_app(app)
    app.register_blueprint(health.blp)
    web.init_app(app, settings)
    if settings.trusted_proxies:  # the client's address and scheme, through that many proxies
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app

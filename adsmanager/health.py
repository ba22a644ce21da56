"""Probes for orchestrators: /healthz (the process answers), /readyz (it can serve)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from adsmanager.api.errors import error_response
from adsmanager.db import migrate

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    engine = current_app.extensions["adsmanager.db"].read_engine
    try:
        current = migrate.current_revisions(engine)
    except SQLAlchemyError as error:
        current_app.logger.warning("database not reachable: %s", error)
        return error_response(503, "unavailable", "The database is not reachable.")
    heads = migrate.head_revisions()
    if current != heads:
        return error_response(
            503,
            "migrations_pending",
            f"The database is at {sorted(current) or 'no revision'}, the code "
            f"needs {sorted(heads)}: run 'adsmanager db upgrade'.",
        )
    return jsonify(status="ready", database=engine.dialect.name, revision=sorted(current))

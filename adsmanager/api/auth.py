"""Bearer API keys on every /v1 route: 401 without a valid key, 403 for the wrong role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request
from werkzeug.exceptions import Forbidden, Unauthorized

from adsmanager.services.access import Actor
from adsmanager.vocabulary import Role

SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key: `Authorization: Bearer am_<prefix>_<secret>`.",
}


def _authenticate() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise Unauthorized("Send an API key: 'Authorization: Bearer <key>'.")
    actor = current_app.extensions["adsmanager.authenticator"](presented.strip())
    if actor is None:
        raise Unauthorized("The API key is unknown or revoked.")
    return actor


def requires(*roles: Role) -> Callable:
    """Decorate a view: the caller's key must have one of ``roles``."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = _authenticate()
            if actor.role not in roles:
                raise Forbidden(
                    f"This needs a key with role {' or '.join(roles)}; yours is {actor.role}."
                )
            g.actor = actor
            return view(*args, **kwargs)

        return wrapper

    return decorate


def actor() -> Actor:
    return g.actor

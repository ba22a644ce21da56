"""adsmanager: Ads Manager and creator-fund backend for a short-video platform."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from adsmanager.config import Settings


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Build the WSGI application. ``config`` overrides settings read from the environment."""
    from adsmanager.app import build_app

    return build_app(config)

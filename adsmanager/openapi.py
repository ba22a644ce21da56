"""openapi.yaml is generated from the code; this renders it the same way every time."""

from __future__ import annotations

import yaml


def render() -> str:
    from adsmanager import create_app

    app = create_app({"database_url": "sqlite://", "secret_key": "unused"})
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)

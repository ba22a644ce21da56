"""openapi.yaml is generated from the code and committed; the two never disagree."""

import yaml

from adsmanager.openapi import render
from tests.conftest import REPO_ROOT


def test_committed_openapi_matches_the_code():
    committed = (REPO_ROOT / "openapi.yaml").read_text()
    assert committed == render(), (
        "openapi.yaml is stale: run 'adsmanager openapi write' and commit it."
    )


def test_the_description_covers_every_route(app):
    spec = yaml.safe_load(render())
    methods = {"get", "post", "put", "patch", "delete"}
    documented = {
        (path, method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method in methods
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/v1/"):
            path = rule.rule.replace("<", "{").replace(">", "}")
            served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in methods:
                continue
            if operation.get("security") == []:  # Stripe signs its webhooks instead
                assert path == "/v1/webhooks/stripe"
                continue
            assert operation["x-required-roles"], (method, path)
            assert "401" in operation["responses"] and "403" in operation["responses"]


def test_openapi_json_and_interactive_docs_are_served_locally(client):
    assert client.get("/openapi.json").json["openapi"].startswith("3.1")
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in html
    assert "//" not in html.split("/docs/assets/")[0].rsplit('"', 1)[-1]  # no CDN host
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert client.get(f"/docs/assets/{asset}").status_code == 200, asset

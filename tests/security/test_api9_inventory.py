"""API9:2023 Improper Inventory Management: every route of both apps is in its OpenAPI document with a
summary or description, nothing is served undocumented, and the documentation pages are up."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

# The documentation itself (its pages and their scripts, styles and favicon, served by the app under
# `/static/docs`): the only routes allowed outside the OpenAPI document.
DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static/docs"}
# Served undocumented on purpose: the scoring service answers the intake API's login (documented there)
# only so that its own `/docs` "Authorize" works, the OAuth2 token URL being relative.
HIDDEN_OPERATIONS = {"scoring": {"POST /v1/auth/token"}}


def _console_routes() -> set[str]:
    """The web console the intake API serves (docs/console.md): its pages, files, vendor files, settings, the
    working-time helper and the read-only scoring proxy. A user interface, like the documentation pages, so
    outside the OpenAPI document; listed once, in `console.app.ROUTES`."""
    from console.app import ROUTES

    assert all(path == "/console" or path.startswith("/console/") for path in ROUTES)
    return set(ROUTES)


def _routes(app: FastAPI) -> list[Any]:
    """Every route the app serves, included routers flattened (FastAPI includes them lazily)."""
    return list(iter_route_contexts(app.routes))


def _apps() -> list[tuple[str, FastAPI]]:
    from intake_api.app import app as intake
    from scoring_service.app import app as scoring

    return [("intake", intake), ("scoring", scoring)]


@pytest.mark.parametrize("name", ["intake", "scoring"])
def test_every_route_is_documented_with_a_summary_or_description(name: str) -> None:
    app = dict(_apps())[name]
    spec = app.openapi()
    undocumented: list[str] = []
    unexplained: list[str] = []
    for route in _routes(app):
        path = getattr(route, "path", "")
        if name == "intake" and path in _console_routes():
            continue
        if not isinstance(route.original_route, APIRoute):
            if path not in DOC_ROUTES:
                undocumented.append(f"{type(route).__name__} {path}")
            continue
        for method in route.methods - {"HEAD"}:
            operation = spec["paths"].get(route.path_format, {}).get(method.lower())
            if not route.include_in_schema or operation is None:
                if f"{method} {path}" not in HIDDEN_OPERATIONS.get(name, set()):
                    undocumented.append(f"{method} {path}")
                continue
            if not (route.summary or route.description):
                unexplained.append(f"{method} {path}")
            assert operation.get("responses"), f"{method} {path} documents no answers"
    assert undocumented == [], undocumented
    assert unexplained == [], unexplained


@pytest.mark.parametrize("name", ["intake", "scoring"])
def test_the_document_lists_nothing_the_app_does_not_serve(name: str) -> None:
    app = dict(_apps())[name]
    served = {
        (route.path_format, method.lower())
        for route in _routes(app)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods
    }
    documented = {(path, method) for path, ops in app.openapi()["paths"].items() for method in ops}
    assert documented <= served


@pytest.mark.parametrize("name", ["intake", "scoring"])
def test_operations_that_need_credentials_say_so(name: str) -> None:
    app = dict(_apps())[name]
    spec = app.openapi()
    public_prefixes = (
        "/open311/",
        "/v1/public/",
        "/v1/track/",
        "/v1/geo/",  # the units' boundaries for maps (no people): the public disclosure page draws them
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/auth/token",
    )
    for path, operations in spec["paths"].items():
        if path.startswith(public_prefixes):
            continue
        for method, operation in operations.items():
            assert operation.get("security"), f"{method.upper()} {path} does not declare its credentials"
            assert "401" in operation["responses"], f"{method.upper()} {path} does not document 401"


async def test_the_documentation_pages_are_served(intake_client: Any, scoring_client: Any) -> None:
    for client in (intake_client, scoring_client):
        docs = await client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert (await client.get("/redoc")).status_code == 200
        spec = (await client.get("/openapi.json")).json()
        assert spec["info"]["title"] and spec["info"]["version"]
        assert spec["paths"]
    schemes = (await intake_client.get("/openapi.json")).json()["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"oauth2", "apiKey"}


async def test_unknown_versions_and_paths_are_404(intake_client: Any, scoring_client: Any) -> None:
    for client in (intake_client, scoring_client):
        for path in ("/v0/requests", "/v2/requests", "/v1/debug", "/admin", "/.env"):
            assert (await client.get(path)).status_code == 404, path

"""The documentation pages, `/docs` (Swagger UI) and `/redoc`, served from the platform itself."""

import base64
import hashlib
import os
import re
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

# The documentation pages' scripts, styles and favicon: Swagger UI and ReDoc as shipped in the pinned
# `fastapi-offline` wheel, served by each app under this prefix, so that no page needs a public CDN.
DOCS_ASSETS_URL = "/static/docs"
_DOCS_ASSETS_DIR = files("fastapi_offline") / "static"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


class _DocsAssets(StaticFiles):
    """The documentation's files: revalidated by ETag (304) rather than refetched, unlike the API's answers."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _page_policy(page: HTMLResponse) -> HTMLResponse:
    """Let a documentation page load nothing from outside the platform, whatever its bundle links to.

    The bundles name a few outside addresses of their own (Swagger UI's validator badge, which the page
    turns off; ReDoc's sidebar logo): the browser refuses them. Inline scripts run only by their hash.
    """
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body))
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return page


def serve_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI, with its OAuth2 redirect page) and `/redoc`, outside the OpenAPI document."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    app.mount(DOCS_ASSETS_URL, _DocsAssets(directory=str(_DOCS_ASSETS_DIR)), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            oauth2_redirect_url=root + redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            # No validator badge: it would send the document's address to validator.swagger.io.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
        return _page_policy(page)

    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        return _page_policy(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return _page_policy(page)

    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route(redirect_url, swagger_ui_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)

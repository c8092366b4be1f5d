"""Serves the console on a FastAPI app: the HTML shell, its static files, the pinned vendor files, the
console's configuration and a same-origin read-only proxy to the scoring service.

Everything is served by the platform itself (government intranets block public CDNs): the page's
Content-Security-Policy lets the browser load scripts, styles, images and data from this origin only,
plus the map tile server when one is configured (`CONSOLE_TILE_URL`).
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from services.sla import service as sla
from shared.deps import SessionDep
from shared.settings import get_settings

PREFIX = "/console"
HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
NODE_MODULES = HERE / "node_modules"
# The only vendor files served (URL under /console/vendor/ → file under console/node_modules/).
VENDOR_FILES: dict[str, str] = {
    "leaflet/leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet/leaflet.css": "leaflet/dist/leaflet.css",
    "leaflet/images/layers.png": "leaflet/dist/images/layers.png",
    "leaflet/images/layers-2x.png": "leaflet/dist/images/layers-2x.png",
    "leaflet/images/marker-icon.png": "leaflet/dist/images/marker-icon.png",
    "leaflet/images/marker-icon-2x.png": "leaflet/dist/images/marker-icon-2x.png",
    "leaflet/images/marker-shadow.png": "leaflet/dist/images/marker-shadow.png",
}
# The scoring service's read endpoints the console uses; nothing else is forwarded.
SCORING_PREFIXES = ("v1/scores/", "v1/rankings", "v1/public/")
SCORING_HEADERS_BACK = ("content-type", "content-disposition", "cache-control", "retry-after")
SCORING_TIMEOUT_SECONDS = 30.0
WORKING_LEFT_MAX = 200
# Client-side routes of the single-page app that a browser may load directly (bookmarks, reloads).
PAGES = ("", "public", "board", "queue", "intake", "dashboard", "login")
# Every route `mount_console` adds (none is in the OpenAPI document: the console is a user interface).
ROUTES = (
    PREFIX,
    *(f"{PREFIX}/{name}" for name in PAGES),
    f"{PREFIX}/requests/{{request_id}}",
    f"{PREFIX}/config.json",
    f"{PREFIX}/vendor/{{path:path}}",
    f"{PREFIX}/api/working-left",
    f"{PREFIX}/scoring/{{path:path}}",
    f"{PREFIX}/static",
)


class _ConsoleFiles(StaticFiles):
    """The console's own files: revalidated by ETag (304), not kept blindly, so an upgrade shows at once."""

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


def content_security_policy(tile_url: str) -> str:
    """Nothing from outside the platform, except the configured tile server's images."""
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "a"))
        if parts.scheme in ("http", "https") and parts.hostname:
            host = parts.hostname.replace("a.", "*.", 1) if "{s}" in tile_url else parts.hostname
            port = f":{parts.port}" if parts.port else ""
            tiles = f" {parts.scheme}://{host}{port}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{tiles}; font-src 'self'; connect-src 'self'; manifest-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def console_config() -> dict[str, Any]:
    """What the page needs to know about this deployment (no secrets)."""
    settings = get_settings()
    return {
        "tile_url": settings.console_tile_url,
        "tile_attribution": settings.console_tile_attribution,
        "scoring_base": f"{PREFIX}/scoring",
        "api_base": "",
        "poll_seconds": 15,
        "token_ttl_seconds": settings.jwt_ttl_seconds,
        "timezone": settings.timezone,
    }


_client: httpx.AsyncClient | None = None


def _scoring_client() -> httpx.AsyncClient:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(
            base_url=get_settings().console_scoring_url.rstrip("/"), timeout=SCORING_TIMEOUT_SECONDS
        )
    return _client


async def close_scoring_client() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def mount_console(app: FastAPI) -> None:
    """Add the console's routes under `/console` (none of them in the OpenAPI document)."""
    policy = content_security_policy(get_settings().console_tile_url)
    shell = STATIC_DIR / "index.html"

    async def page() -> Response:
        response = FileResponse(shell, media_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = policy
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def to_shell() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    app.add_api_route(PREFIX, to_shell, methods=["GET"], include_in_schema=False)
    for name in PAGES:
        app.add_api_route(f"{PREFIX}/{name}", page, methods=["GET"], include_in_schema=False)

    async def request_page(request_id: int) -> Response:
        return await page()

    app.add_api_route(f"{PREFIX}/requests/{{request_id}}", request_page, methods=["GET"], include_in_schema=False)

    async def config() -> JSONResponse:
        return JSONResponse(console_config(), headers={"Cache-Control": "no-cache"})

    app.add_api_route(f"{PREFIX}/config.json", config, methods=["GET"], include_in_schema=False)

    async def vendor(path: str) -> Response:
        relative = VENDOR_FILES.get(path)
        target = NODE_MODULES / relative if relative else None
        if target is None or not target.is_file():
            detail = "Not a console vendor file" if relative is None else "Run `make install` (npm ci in console/)"
            return _problem(404, "Not Found", detail)
        response = FileResponse(target)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    app.add_api_route(f"{PREFIX}/vendor/{{path:path}}", vendor, methods=["GET"], include_in_schema=False)

    async def scoring(path: str, request: Request) -> Response:
        if not path.startswith(SCORING_PREFIXES) or ".." in path:
            return _problem(404, "Not Found", "Not a scoring endpoint the console reads")
        headers = {"Accept": request.headers.get("accept", "application/json")}
        if "authorization" in request.headers:
            headers["Authorization"] = request.headers["authorization"]
        if "x-request-id" in request.headers:
            headers["X-Request-ID"] = request.headers["x-request-id"]
        try:
            answer = await _scoring_client().get(f"/{path}", params=request.query_params, headers=headers)
        except httpx.HTTPError:
            return _problem(502, "Bad Gateway", "The scoring service does not answer")
        kept = {k: v for k, v in answer.headers.items() if k.lower() in SCORING_HEADERS_BACK}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    async def working_left(
        session: SessionDep, until: Annotated[list[datetime], Query(max_length=WORKING_LEFT_MAX)]
    ) -> JSONResponse:
        """Working minutes from now to each deadline (negative once passed), by the platform's own calendar
        (office hours, holidays, 调休), so the console shows time left as the SLA clock counts it."""
        calendar = await sla.calendar(session)
        now = datetime.now(UTC)
        items = []
        for moment in until:
            aware = moment if moment.tzinfo else moment.replace(tzinfo=calendar.tz)
            if aware >= now:
                minutes = calendar.working_minutes_between(now, aware)
            else:
                minutes = -calendar.working_minutes_between(aware, now)
            items.append({"until": aware.isoformat(), "working_minutes": round(minutes, 1)})
        return JSONResponse({"now": now.isoformat(), "items": items})

    app.add_api_route(f"{PREFIX}/api/working-left", working_left, methods=["GET"], include_in_schema=False)

    app.add_api_route(f"{PREFIX}/scoring/{{path:path}}", scoring, methods=["GET"], include_in_schema=False)
    app.mount(f"{PREFIX}/static", _ConsoleFiles(directory=str(STATIC_DIR)), name="console-static")

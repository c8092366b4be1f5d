"""What both FastAPI apps share: problem+json errors, request ids, body limits, health, metrics, docs."""

import base64
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import discard_pooled_connections, dispose_engine, get_engine
from shared.errors import AppError, PayloadTooLarge
from shared.logging import configure_logging, request_id_var
from shared.queue import close_queue, get_queue
from shared.settings import get_settings

logger = logging.getLogger("minqing.http")
PROBLEM_JSON = "application/problem+json"

HTTP_REQUESTS = Counter(
    "minqing_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "minqing_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p not in ("body",)]
        errors.append(
            {
                "loc": list(err.get("loc", ())),
                "field": ".".join(str(p) for p in loc),
                "msg": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
        )
    return errors


# PostgreSQL's "character not in repertoire" / "untranslatable character" (e.g. a NUL in text).
UNSTORABLE_TEXT_STATES = ("22021", "22P05")


def _is_unstorable_text(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in UNSTORABLE_TEXT_STATES


# SQLSTATE classes and codes that mean "the database is not there right now", not "your input is wrong":
# connection exceptions (08), operator intervention (57: shutdown, starting up, cancelled), insufficient
# resources (53: too many connections) and a database closed to new connections (55000, ALLOW_CONNECTIONS).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def is_backend_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or anything that caused it, says PostgreSQL or Redis is unreachable: 503, not 500."""
    # The driver's error can sit under SQLAlchemy's, an adapter's, a rollback's or an exception group's.
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < 20:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if _says_unavailable(error):
            return True
        pending.extend(e for e in (error.__cause__, error.__context__) if e is not None)
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
    return False


def _says_unavailable(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, (OSError, ConnectionError, TimeoutError, RedisConnectionError, RedisTimeoutError)):
        return True
    if isinstance(error, (PoolTimeout, asyncpg.exceptions.PostgresConnectionError)):
        return True
    if isinstance(error, asyncpg.exceptions.InterfaceError) and "closed" in str(error):
        return True
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and (
        sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or (sqlstate == "55000" and "accepting connections" in str(error))
    )


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """An error, before it is rendered: problem+json by default, another format where a prefix asks."""

    status: int
    title: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


ErrorRenderer = Callable[[Request, ErrorAnswer], Response]


def register_error_renderer(app: FastAPI, path_prefix: str, renderer: ErrorRenderer) -> None:
    """Render errors under `path_prefix` with `renderer` (Open311 answers with its own error array)."""
    app.state.error_renderers = [*getattr(app.state, "error_renderers", []), (path_prefix, renderer)]


def render_error(request: Request, answer: ErrorAnswer) -> Response:
    renderers: list[tuple[str, ErrorRenderer]] = getattr(request.app.state, "error_renderers", [])
    for prefix, renderer in renderers:
        if request.url.path.startswith(prefix):
            return renderer(request, answer)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": answer.title,
        "status": answer.status,
        "detail": answer.detail,
        "instance": request.url.path,
    }
    if answer.errors:
        body["errors"] = answer.errors
    return JSONResponse(body, status_code=answer.status, media_type=PROBLEM_JSON, headers=answer.headers)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method the path answers to (RFC 9110 `Allow`): Starlette's 405 names only those of the
    first route whose path matches, and a path often has one route per method."""
    path, root_path = request.scope["path"], request.scope.get("root_path", "")
    allowed = []
    for method in _METHODS:
        probe = {"type": "http", "path": path, "root_path": root_path, "method": method, "headers": []}
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        return render_error(request, ErrorAnswer(exc.status, exc.title, exc.detail, exc.errors, exc.headers))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        fields = ", ".join(e["field"] or "body" for e in errors[:5])
        return render_error(request, ErrorAnswer(422, "Invalid input", f"Invalid value for: {fields}", errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:
            # The framework's answer to a body it cannot parse (not UTF-8 JSON, a broken form): invalid input.
            detail = (
                "The body cannot be parsed" if exc.detail == "There was an error parsing the body" else str(exc.detail)
            )
            error = {"loc": ["body"], "field": "body", "msg": detail, "type": "json_invalid"}
            return render_error(request, ErrorAnswer(422, "Invalid input", detail, [error]))
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        return render_error(request, ErrorAnswer(exc.status_code, title, detail, headers=headers))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        if is_backend_unavailable(exc):
            logger.warning("storage unavailable", extra={"error": type(exc).__name__})
            if not isinstance(exc, RedisError):
                # After a PostgreSQL restart every pooled connection is dead, and the hot paths that use
                # asyncpg directly bypass SQLAlchemy's invalidation: start the pool afresh.
                await discard_pooled_connections()
            detail = "A backing service is unavailable; retry shortly"
            return render_error(request, ErrorAnswer(503, "Service unavailable", detail, headers={"Retry-After": "5"}))
        if _is_unstorable_text(exc):
            # A safety net: schemas refuse control characters, but any text that slips through is bad input.
            detail = "The input contains characters that cannot be stored (e.g. NUL)"
            return render_error(request, ErrorAnswer(422, "Invalid input", detail))
        if isinstance(exc, IntegrityError):
            # A constraint caught a race the service checks could not see.
            return render_error(request, ErrorAnswer(409, "Conflict", "The change conflicts with existing data"))
        logger.exception("unhandled error")
        return render_error(request, ErrorAnswer(500, "Internal error", "An unexpected error occurred"))


# Sent on every answer: no MIME sniffing, no framing (clickjacking on the docs pages), and, unless an
# endpoint chose its own caching, nothing kept by proxies or browsers (answers may carry PII).
_SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))
_NO_STORE = (b"cache-control", b"no-store")


class RequestContextMiddleware:
    """Assign a request id, set the security headers, log one line per request, count and time it."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        # The metric children by labels: `labels()` takes a lock and builds a key on every call.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isascii() else uuid.uuid4().hex
        header = (b"x-request-id", request_id.encode())
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), header, *_SECURITY_HEADERS]
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self._observe(method, template, status, elapsed)
            if template not in ("/healthz", "/metrics") and logger.isEnabledFor(logging.INFO):
                logger.info(
                    "request",
                    extra={
                        "method": method,
                        "path": scope.get("path"),
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)

    def _observe(self, method: str, template: str, status: int, elapsed: float) -> None:
        counter = self._counters.get((method, template, status))
        if counter is None:
            counter = self._counters[method, template, status] = HTTP_REQUESTS.labels(
                self.service, method, template, str(status)
            )
        timer = self._timers.get((method, template))
        if timer is None:
            timer = self._timers[method, template] = HTTP_LATENCY.labels(self.service, method, template)
        counter.inc()
        timer.observe(elapsed)


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413 before the app reads them.

    `overrides` maps a path suffix to its own limit (the grid import takes large bodies).
    """

    def __init__(self, app: ASGIApp, default: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.overrides = overrides or {}

    def _limit(self, path: str) -> int:
        for suffix, limit in self.overrides.items():
            if path.endswith(suffix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            try:
                if int(declared) > limit:
                    await _send_problem(scope, receive, send, _too_large(limit))
                    return
            except ValueError:
                pass
            await self.app(scope, receive, send)
            return
        # No length given (chunked): read up to the limit, then replay the body to the app.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_problem(scope, receive, send, _too_large(limit))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(limit: int) -> AppError:
    return PayloadTooLarge(f"The request body exceeds {limit} bytes")


async def _send_problem(scope: Scope, receive: Receive, send: Send, error: AppError) -> None:
    answer = ErrorAnswer(error.status, error.title, error.detail, error.errors, error.headers)
    response = render_error(Request(scope, receive), answer)
    await response(scope, receive, send)


WarningCheck = Callable[[], Awaitable[list[str]]]


def add_readiness_warning(app: FastAPI, check: WarningCheck) -> None:
    """A check whose findings `/readyz` reports as warnings (ready, but an operator should act)."""
    app.state.readiness_warnings = [*getattr(app.state, "readiness_warnings", []), check]


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: PostgreSQL and Redis answer",
        responses={503: {"description": "A dependency is down"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        for name, check in (("database", _check_database), ("redis", _check_redis)):
            try:
                await check()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                checks[name] = f"error: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not_ready", "checks": checks}
        if ready:
            warnings: list[str] = []
            for warn in getattr(request.app.state, "readiness_warnings", []):
                warnings += await warn()
            if warnings:
                body["warnings"] = warnings
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _check_database() -> None:
    async with get_engine().connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_redis() -> None:
    pool = await get_queue()
    await pool.ping()


def create_base_app(*, title: str, description: str, service: str) -> FastAPI:
    """A FastAPI app with what every Minqing app has: errors, limits, request ids, health, metrics."""
    settings = get_settings()
    settings.check_production()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        yield
        await close_queue()
        await dispose_engine()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by `_serve_docs`, from the platform itself rather than public CDNs
        redoc_url=None,
        debug=False,
    )
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        overrides={"/grids/import": settings.import_max_body_bytes},
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "Idempotency-Key", "If-Match"],
        )
    app.add_middleware(RequestContextMiddleware, service=service)
    app.include_router(health_router())
    _serve_docs(app)
    _document_errors_as_problems(app)
    return app


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


def _serve_docs(app: FastAPI) -> None:
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


def _document_errors_as_problems(app: FastAPI) -> None:
    """Describe every 4xx answer as what it is on the wire: `application/problem+json` with `Problem`.

    FastAPI documents a response model under `application/json` and adds its own 422 schema
    (`HTTPValidationError`); our handlers answer all of those as problem+json. Paths that register
    their own error format (Open311's error arrays) keep what their routes declare.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}"))
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        for path, operations in schema.get("paths", {}).items():
            if any(path.startswith(prefix) for prefix, _ in getattr(app.state, "error_renderers", [])):
                continue
            for operation in operations.values():
                for code, response in operation.get("responses", {}).items():
                    if code.startswith("4"):
                        response["content"] = {PROBLEM_JSON: problem}
        for unused in ("HTTPValidationError", "ValidationError"):
            if unused in components and unused not in json.dumps(schema["paths"]):
                del components[unused]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


_PROBLEM_TEXT = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Out of role",
    404: "Not found, or outside your scope",
    409: "Conflict (duplicate, in use, or the version moved on)",
    413: "Body too large",
    422: "Invalid input: `errors[]` names each field",
    428: "Send the version you read (If-Match or `version`)",
    429: "Too many calls: retry after `Retry-After` seconds",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers an endpoint may give.

    An endpoint that can answer 401 takes credentials, and an API key among them is rate-limited: 429.
    """
    if 401 in codes and 429 not in codes:
        codes = (*codes, 429)
    return {code: {"model": Problem, "description": _PROBLEM_TEXT.get(code, "Error")} for code in codes}

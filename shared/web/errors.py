"""Errors as answers: RFC 9457 problem+json (or a prefix's own format), the exception handlers, and the
problem entries of the OpenAPI document."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.db import discard_pooled_connections
from shared.errors import AppError
from shared.web.unavailable import is_backend_unavailable

logger = logging.getLogger("minqing.http")
PROBLEM_JSON = "application/problem+json"


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

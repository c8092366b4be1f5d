"""The ASGI middlewares of both apps: request ids, security headers, logs and metrics; body limits."""

import time
import uuid
from typing import Any

from fastapi import Request
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import AppError, PayloadTooLarge
from shared.logging import request_id_var
from shared.web.access_log import AccessLog
from shared.web.errors import ErrorAnswer, render_error

HTTP_REQUESTS = Counter(
    "minqing_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "minqing_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


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
        self._access = AccessLog()

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
            if template not in ("/healthz", "/metrics") and self._access.enabled():
                self._access.write(method, scope.get("path", ""), status, round(elapsed * 1000, 2), request_id)
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

"""The test kit: what tests need beside the data (tests/factories.py builds the data).

* `burst_worker`, `drain`: the routing worker in burst mode, run until its queue is empty.
* `create_request`, `routed_request`: a request through the intake API, routed by the worker;
  `handler_of`: who of the handling setup (tests/factories.py) it went to, `routed_to_handler`: both
  with that handler's bearer headers; `accept_and_resolve`: that handler accepts and resolves it.
* `problem`, `count_rows`: the checks many tests make on an answer and on a table.
* `WebhookReceiver`: the one fake webhook receiver, a real HTTP server on 127.0.0.1 (the fixture
  `webhook_receiver` in tests/conftest.py starts one per test).
"""

import contextlib
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

import httpx
from arq.worker import Worker
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from routing_worker.worker import WorkerSettings
from services.models import Request, StaffAccount
from shared.queue import DEFAULT_QUEUE
from tests.factories import at_grid, bearer

PROBLEM = "application/problem+json"

# ---- the routing worker in burst mode ------------------------------------------------------------


def burst_worker(**overrides: Any) -> Worker:
    """A routing worker that stops once its queue is empty (arq's burst mode), for job tests."""
    settings: dict[str, Any] = {
        "functions": WorkerSettings.functions,
        "redis_settings": WorkerSettings.redis_settings,
        "queue_name": DEFAULT_QUEUE,
        "burst": True,
        "poll_delay": 0.01,
        "keep_result": 0,
        "handle_signals": False,
        "max_jobs": 10,
    }
    settings.update(overrides)
    return Worker(**settings)


async def drain() -> None:
    """Run the routing worker until every queued job is done."""
    worker = burst_worker()
    await worker.main()
    await worker.close()


# ---- the intake API --------------------------------------------------------------------------------


async def create_request(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`POST /v1/requests` (by default a hotline request in grid 0), which must answer 201."""
    answer = await client.post("/v1/requests", json=body or at_grid(0), headers=headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def routed_request(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], body: dict[str, Any] | None = None
) -> Request:
    """A request created by the handling setup's integration key and routed by the worker."""
    created = await create_request(client, setup["key"], body)
    await drain()
    request = await session.get(Request, created["id"], populate_existing=True)
    assert request is not None
    return request


def handler_of(setup: dict[str, Any], request: Request) -> StaffAccount:
    """The staff account of the handling setup that `request` is assigned to."""
    for staff in [s for group in setup["handlers"].values() for s in group] + [setup["hb_staff"]]:
        if staff.id == request.handler_id:
            return staff
    raise AssertionError("the request has no handler from the setup")


async def routed_to_handler(
    client: httpx.AsyncClient, session: AsyncSession, setup: dict[str, Any], body: dict[str, Any] | None = None
) -> tuple[Request, dict[str, str]]:
    """`routed_request`, and the bearer headers of the handler it went to (which it must have)."""
    request = await routed_request(client, session, setup, body)
    return request, bearer(handler_of(setup, request))


async def accept_and_resolve(
    client: httpx.AsyncClient, request: Request, auth: dict[str, str], reply: str = "已办结"
) -> None:
    """The handler (`auth`) accepts `request` and resolves it (outcome `resolved`); both answer 200."""
    base = f"/v1/requests/{request.id}"
    accepted = await client.post(f"{base}/accept", json={}, headers=auth)
    assert accepted.status_code == 200, accepted.text
    resolved = await client.post(f"{base}/resolve", json={"outcome": "resolved", "reply": reply}, headers=auth)
    assert resolved.status_code == 200, resolved.text


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of an error answer with `status` (RFC 9457 members checked)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


async def count_rows(session: AsyncSession, model: Any) -> int:
    """How many rows the table of `model` holds."""
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# ---- the fake webhook receiver -------------------------------------------------------------------------

# What a receiver answers must be neither believed nor stored: every answer carries this lie, padded to
# 100 kB so that a sender reading it whole would show.
LIE = b'{"state":"delivered","secret":"RECEIVER-SAYS","next_attempt_at":null}<script>alert(1)</script>'
METADATA_URL = "http://169.254.169.254/"


@dataclass(frozen=True)
class Received:
    """One POST the receiver got (header names in lower case)."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """How the receiver answers a path: a status (and `Location`) after `delay` seconds, or misbehaves:
    `endless` announces a huge body and writes for 5 s, `garbage` is not HTTP, `drop` hangs up."""

    status: int = 200
    location: str | None = None
    delay: float = 0.0
    misbehave: Literal["endless", "garbage", "drop"] | None = None


DEFAULT_ANSWERS: dict[str, Answer] = {
    "/ok": Answer(),
    "/fail": Answer(500),
    "/gone": Answer(410),
    "/teapot": Answer(418),
    "/lie": Answer(503),
    "/redirect": Answer(302, location=METADATA_URL),
    "/slow": Answer(delay=1.5),
    "/endless": Answer(misbehave="endless"),
    "/garbage": Answer(misbehave="garbage"),
    "/drop": Answer(misbehave="drop"),
}


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) refuses bursts of concurrent sends: a receiver artefact, not ours.
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Senders hang up mid-answer on purpose (timeouts, unread bodies): no traceback for that.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 (a free port, its own thread) that records every POST and answers
    by path (`DEFAULT_ANSWERS`, `answers` for more; other paths get 200). HTTPS with `certfile`/`keyfile`."""

    certfile: str | None = None
    keyfile: str | None = None
    answers: dict[str, Answer] = field(default_factory=lambda: dict(DEFAULT_ANSWERS))
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _server: _Server | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "WebhookReceiver":
        server = _Server(("127.0.0.1", 0), _handler(self))
        if self.certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certfile, self.keyfile)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            answer = receiver.answers.get(self.path, Answer())
            time.sleep(answer.delay)
            with contextlib.suppress(OSError):  # the sender hangs up without reading bodies, as it should
                if answer.misbehave == "endless":
                    self._endless()
                elif answer.misbehave == "garbage":
                    self.wfile.write(b"\x00\xffNOT HTTP AT ALL\r\n\r\n")
                elif answer.misbehave == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                else:
                    self.send_response(answer.status)
                    if answer.location:
                        self.send_header("Location", answer.location)
                    padded = LIE + b" " * 100_000
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(padded)))
                    self.end_headers()
                    self.wfile.write(padded)

        def _endless(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                self.wfile.write(b"x" * 65536)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler

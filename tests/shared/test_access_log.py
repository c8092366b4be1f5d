"""The access log: one JSON line per answered request, as the other log lines are, written in batches."""

import asyncio
import io
import json
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.web import access_log
from shared.web.access_log import AccessLog
from shared.web.middleware import RequestContextMiddleware

pure = pytest.mark.pure


@pure
async def test_lines_are_the_log_format_batched_and_written_soon_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_log, "FLUSH_SECONDS", 0.01)
    stream = io.StringIO()
    log = AccessLog(stream)
    log.write("POST", '/v1/requests/"引号"', 201, 3.25, "abc")
    log.write("GET", "/v1/requests", 200, 1.0, None)
    assert stream.getvalue() == ""  # not yet: one write for the batch
    await asyncio.sleep(0.05)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["path"] for line in lines] == ['/v1/requests/"引号"', "/v1/requests"]
    first = lines[0]
    assert {k: first[k] for k in ("level", "logger", "msg", "method", "status", "ms", "request_id")} == {
        "level": "info",
        "logger": "minqing.http",
        "msg": "request",
        "method": "POST",
        "status": 201,
        "ms": 3.25,
        "request_id": "abc",
    }
    assert "request_id" not in lines[1] and first["ts"].endswith("+00:00")


@pure
def test_a_full_buffer_is_written_at_once_and_outside_a_loop_each_line_is() -> None:
    stream = io.StringIO()
    log = AccessLog(stream)
    log.write("GET", "/x", 200, 1.0, None)  # no running loop: written now
    assert stream.getvalue().count("\n") == 1
    for _ in range(access_log.FLUSH_BYTES // 50):
        log._lines.append("x" * 50)
        log._size += 50
    log._lines.append("\n")
    log.write("GET", "/y", 200, 1.0, None)
    assert stream.getvalue().endswith('"ms":1.0}\n') and "/y" in stream.getvalue()


@pure
async def test_the_middleware_logs_each_answer_with_its_request_id(monkeypatch: pytest.MonkeyPatch) -> None:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, Any]:
        return {"ok": True}

    stream = io.StringIO()
    middleware = RequestContextMiddleware(app, "test")
    middleware._access = AccessLog(stream)
    monkeypatch.setattr(access_log.logger, "level", logging.INFO)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        answer = await client.get("/hello", headers={"X-Request-Id": "req-1"})
        await client.get("/nowhere")
    middleware._access.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert answer.headers["x-request-id"] == "req-1"
    assert [(line["path"], line["status"]) for line in lines] == [("/hello", 200), ("/nowhere", 404)]
    assert lines[0]["request_id"] == "req-1" and len(lines[1]["request_id"]) == 32  # one made when none came

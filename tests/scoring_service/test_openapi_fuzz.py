"""Property-based fuzzing of every scoring API operation over a real uvicorn server (schemathesis).

For every documented operation and every generated input, as a city admin, with a finished run of
2026-10 in the database: no 5xx; status, content type and body as the OpenAPI document says; every
4xx on `/v1` is RFC 9457 problem+json.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import bearer, make_staff
from tests.services.scoring.helpers import build_small_fixture, compute_and_store

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_JSON = "application/problem+json"

settings.register_profile(
    "minqing-scoring-fuzz",
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
FUZZ = settings.get_profile("minqing-scoring-fuzz")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`uvicorn scoring_service.app:app` in its own process, on the test database and Redis."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("uvicorn-scoring") / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "scoring_service.app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {log_path.read_text(errors='replace')[-4000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
async def admin_headers(clean_state: None, session: Any) -> dict[str, str]:
    """The small fixture, a finished run of 2026-10, and a city admin's bearer token."""
    s, principal, _ = await build_small_fixture(session)
    await compute_and_store(session, principal)
    admin = await make_staff(session, "fuzz_scoring_admin", "admin", s["units"]["3302"])
    await session.commit()
    return bearer(admin)


def problem_json_for_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx answer on `/v1` is RFC 9457 problem+json."""
    if not 400 <= response.status_code < 500 or not case.operation.path.startswith("/v1/"):
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.split(";")[0].strip() == PROBLEM_JSON, f"4xx with content type {content_type!r}"
    body = response.json()
    missing = {"type", "title", "status", "detail"} - body.keys()
    assert not missing, f"problem+json without {sorted(missing)}: {body}"
    assert body["status"] == response.status_code, body
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_json_for_4xx,
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261126,
        "generation": {"with-security-parameters": False},
        "phases": {"coverage": {"unexpected-methods": ["put"]}},
    }
)


@pytest.fixture(scope="module")
def api_schema(server_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{server_url}/openapi.json", config=CONFIG)


@pytest.fixture(autouse=True)
def _schemathesis_pytest9_compat(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy schemas read `item._nodeid`, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(FUZZ)
def test_every_operation_answers_as_documented(
    case: Any, server_url: str, http: requests.Session, admin_headers: dict[str, str]
) -> None:
    case.call_and_validate(base_url=server_url, session=http, headers=admin_headers, checks=CHECKS, timeout=30)

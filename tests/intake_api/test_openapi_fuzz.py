"""Property-based fuzzing of every intake API operation over a real uvicorn server (schemathesis).

For every documented operation and every generated input, authenticated as a city admin:
no 5xx; the status code, content type and body are what the OpenAPI document says; and every
4xx answer on `/v1` is RFC 9457 problem+json (`type`, `title`, `status`, `detail`).
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
from sqlalchemy import update as sql_update

from services.identity.models import StaffAccount
from tests.factories import bearer, make_small_city, make_staff

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_JSON = "application/problem+json"
ADMIN_ID = 7_340_033_221

settings.register_profile(
    "minqing-openapi-fuzz",
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
FUZZ = settings.get_profile("minqing-openapi-fuzz")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`uvicorn intake_api.app:app` in its own process, on the test database and Redis."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # The server's log goes to a file (a pipe nobody reads would fill up and block the server).
    log_path = tmp_path_factory.mktemp("uvicorn") / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "intake_api.app:app", "--host", "127.0.0.1", "--port", str(port)],
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
        print(f"uvicorn log: {log_path}")


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One keep-alive connection pool for all generated calls."""
    with requests.Session() as session:
        yield session


@pytest.fixture
async def admin_headers(clean_state: None, session: Any) -> dict[str, str]:
    """A small city and its city admin, seeded after the clean-up (once: the operations are subtests).

    The admin gets an id the fuzzer will not guess: generated calls such as
    `PATCH /v1/admin/staff/1 {"active": false, "version": 1}` would otherwise disable the very
    account they run as, and every later call would only prove the 401.
    """
    units = await make_small_city(session)
    admin = await make_staff(session, "fuzz_city_admin", "admin", units["3302"])
    await session.execute(sql_update(StaffAccount).where(StaffAccount.id == admin.id).values(id=ADMIN_ID))
    await session.commit()
    session.expunge(admin)
    admin = await session.get(StaffAccount, ADMIN_ID)
    assert admin is not None and admin.active
    return bearer(admin)


def problem_json_for_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx answer on `/v1` is RFC 9457 problem+json (`/open311` answers the spec's error array)."""
    if not 400 <= response.status_code < 500 or not case.operation.path.startswith("/v1/"):
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.split(";")[0].strip() == PROBLEM_JSON, f"4xx with content type {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), body
    missing = {"type", "title", "status", "detail"} - body.keys()
    assert not missing, f"problem+json without {sorted(missing)}: {body}"
    assert body["status"] == response.status_code, body
    if "errors" in body:
        assert isinstance(body["errors"], list), body
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_json_for_4xx,
]


def _openapi() -> dict[str, Any]:
    from intake_api.app import app

    return app.openapi()


# Unexpected methods are probed with two verbs (each must be a problem+json 405), not all eight,
# to keep the file within its time budget. Credentials are the seeded admin's bearer token, sent
# with every call; schemathesis must not invent its own X-API-Key or Authorization values on top.
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261126,
        "generation": {"with-security-parameters": False},
        "phases": {"coverage": {"unexpected-methods": ["put", "trace"]}},
    }
)


@pytest.fixture(scope="module")
def api_schema(server_url: str) -> Any:
    """The document the running server serves (checked against the app's own below)."""
    return schemathesis.openapi.from_url(f"{server_url}/openapi.json", config=CONFIG)


@pytest.fixture(autouse=True)
def _schemathesis_pytest9_compat(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy schemas read `item._nodeid`, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


# All operations run as subtests of one test: one clean-up and one seed for the whole fuzz run.
schema = schemathesis.pytest.from_fixture("api_schema")


def test_server_serves_the_fuzzed_document(server_url: str) -> None:
    served = httpx.get(f"{server_url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == _openapi()


def _error_responses() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path} {code}", response)
        for path, operations in _openapi()["paths"].items()
        for method, operation in operations.items()
        for code, response in operation["responses"].items()
        if code.startswith("4") and path.startswith("/v1/")
    ]


def test_every_documented_4xx_is_problem_json() -> None:
    not_problem = [
        f"{label}: {sorted(r.get('content', {}))}"
        for label, r in _error_responses()
        if PROBLEM_JSON not in r.get("content", {})
    ]
    assert not_problem == [], "\n".join(not_problem)


def test_problem_json_answers_document_their_body_and_nothing_else() -> None:
    """A 4xx is documented as problem+json with the Problem schema, not as a plain JSON body never sent."""
    wrong = [
        f"{label}: {r.get('content', {})}"
        for label, r in _error_responses()
        if set(r.get("content", {})) != {PROBLEM_JSON} or "schema" not in r["content"][PROBLEM_JSON]
    ]
    assert wrong == [], f"{len(wrong)} 4xx answers documented otherwise, e.g.:\n" + "\n".join(wrong[:5])


@schema.parametrize()
@settings(FUZZ)
def test_every_operation_answers_as_documented(
    case: Any, server_url: str, http: requests.Session, admin_headers: dict[str, str]
) -> None:
    case.call_and_validate(base_url=server_url, session=http, headers=admin_headers, checks=CHECKS, timeout=10)

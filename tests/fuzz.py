"""What the schemathesis fuzzing of the two apps shares: the suite's `test_openapi_fuzz.py` files and `bench/fuzz.py`.

* `uvicorn_server`: an app in its own uvicorn process on a free 127.0.0.1 port, ready on `/healthz`.
* `CHECKS` and `call_and_validate`: no 5xx; status, content type and body as the OpenAPI document
  says; every 4xx on `/v1` is RFC 9457 problem+json (`problem_json_for_4xx`).
* `hypothesis_profile`, `schemathesis_config`: deterministic generation, credentials sent by us.
* `seed_intake`, `seed_scoring`: the data each app is fuzzed on, and a city admin's bearer token.
* `server_url_fixture`, `http_fixture`, `api_schema_fixture`, `nodeid_compat_fixture`: the pytest
  fixtures both test files need, bound to a module-level name there (pytest registers a fixture
  under the name it is assigned to).
* `broken_links`: OpenAPI links whose target operation does not exist.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import OrgUnit, StaffAccount
from tests.factories import bearer, make_small_city, make_staff
from tests.services.scoring.helpers import build_small_fixture, compute_and_store

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_JSON = "application/problem+json"
ADMIN_ID = 7_340_033_221
SEED = 20261126


def hypothesis_profile(name: str, *, max_examples: int) -> settings:
    """Deterministic, no example database, no deadline (calls cross a real server), no health checks."""
    settings.register_profile(
        name,
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    return settings.get_profile(name)


def schemathesis_config(*, unexpected_methods: list[str] | None = None, seed: int = SEED) -> schemathesis.Config:
    """Credentials are the seeded admin's bearer token, sent with every call: schemathesis must not
    invent its own X-API-Key or Authorization values on top. `unexpected_methods` are the verbs the
    coverage phase probes on every path (each must be a problem+json 405); default: all of them."""
    config: dict[str, Any] = {"seed": seed, "generation": {"with-security-parameters": False}}
    if unexpected_methods is not None:
        config["phases"] = {"coverage": {"unexpected-methods": unexpected_methods}}
    return schemathesis.Config.from_dict(config)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_server(app: str, log_path: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """`uvicorn <app>` in its own process (on the database and Redis of `env`, default ours); its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The server's log goes to a file (a pipe nobody reads would fill up and block the server).
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**(env if env is not None else os.environ), "LOG_LEVEL": "WARNING"},
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


def call_and_validate(
    case: Any, base_url: str, http: requests.Session, headers: Mapping[str, str], *, timeout: float
) -> Any:
    """Send one generated call with our credentials and run `CHECKS` on the answer (raises `FailureGroup`)."""
    return case.call_and_validate(
        base_url=base_url, session=http, headers=dict(headers), checks=CHECKS, timeout=timeout
    )


async def make_fuzz_admin(session: AsyncSession, username: str, scope: OrgUnit) -> dict[str, str]:
    """A city admin with an id the fuzzer will not guess, committed; its bearer headers.

    Generated calls such as `PATCH /v1/admin/staff/1 {"active": false, "version": 1}` would otherwise
    disable the very account they run as, and every later call would only prove the 401.
    """
    admin = await make_staff(session, username, "admin", scope)
    await session.execute(sql_update(StaffAccount).where(StaffAccount.id == admin.id).values(id=ADMIN_ID))
    await session.commit()
    session.expunge(admin)
    renumbered = await session.get(StaffAccount, ADMIN_ID)
    assert renumbered is not None and renumbered.active
    return bearer(renumbered)


def targets_the_fuzzer(case: Any) -> bool:
    """Whether a generated call would change the admin account the calls are made as (a long run with
    stateful links learns its id from `GET /v1/me`): disabling or demoting it would only prove 401s after."""
    return case.operation.label == "PATCH /v1/admin/staff/{staff_id}" and str(
        (case.path_parameters or {}).get("staff_id")
    ) == str(ADMIN_ID)


async def seed_intake(session: AsyncSession) -> dict[str, str]:
    """A small city and its city admin; the admin's bearer headers."""
    units = await make_small_city(session)
    return await make_fuzz_admin(session, "fuzz_city_admin", units["3302"])


async def seed_scoring(session: AsyncSession) -> dict[str, str]:
    """The scoring tests' small fixture (city, catalog, matrix, teams, eleven requests), a finished run
    of 2026-10, and a city admin; the admin's bearer headers."""
    s, principal, _ = await build_small_fixture(session)
    await compute_and_store(session, principal)
    return await make_fuzz_admin(session, "fuzz_scoring_admin", s["units"]["3302"])


def broken_links(document: Mapping[str, Any]) -> list[str]:
    """`METHOD path status -> name` of each OpenAPI link whose `operationId` names no operation."""
    operations = [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    ids = {operation.get("operationId") for _, _, operation in operations}
    return [
        f"{method} {path} {status} -> {name}"
        for method, path, operation in operations
        for status, response in operation.get("responses", {}).items()
        for name, link in response.get("links", {}).items()
        if link.get("operationId") not in ids
    ]


# ---- pytest fixtures, bound to a name in each test module ------------------------------------------


def server_url_fixture(app: str) -> Any:
    """Module-scoped: `uvicorn <app>` on the test database and Redis; its base URL."""

    @pytest.fixture(scope="module")
    def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        log_path = tmp_path_factory.mktemp("uvicorn") / "server.log"
        with uvicorn_server(app, log_path) as url:
            yield url

    return server_url


def http_fixture() -> Any:
    """Module-scoped: one keep-alive connection pool for all generated calls."""

    @pytest.fixture(scope="module")
    def http() -> Iterator[requests.Session]:
        with requests.Session() as session:
            yield session

    return http


def api_schema_fixture(config: schemathesis.Config) -> Any:
    """Module-scoped: the document the running server serves, loaded with `config`."""

    @pytest.fixture(scope="module")
    def api_schema(server_url: str) -> Any:
        return schemathesis.openapi.from_url(f"{server_url}/openapi.json", config=config)

    return api_schema


def nodeid_compat_fixture() -> Any:
    """Autouse: schemathesis 4.32's lazy schemas read `item._nodeid`, which pytest 9 no longer has."""

    @pytest.fixture(autouse=True)
    def schemathesis_pytest9_compat(request: pytest.FixtureRequest) -> None:
        if not hasattr(request.node, "_nodeid"):
            request.node._nodeid = request.node.nodeid

    return schemathesis_pytest9_compat

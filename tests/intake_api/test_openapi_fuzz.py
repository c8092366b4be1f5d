"""Property-based fuzzing of every intake API operation over a real uvicorn server (schemathesis).

For every documented operation and every generated input, authenticated as a city admin:
no 5xx; the status code, content type and body are what the OpenAPI document says; and every
4xx answer on `/v1` is RFC 9457 problem+json (`type`, `title`, `status`, `detail`).
The shared set-up (server, checks, settings, seed) is in `tests/fuzz.py`.
"""

from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import settings

from tests import fuzz

FUZZ = fuzz.hypothesis_profile("minqing-openapi-fuzz", max_examples=15)
# Unexpected methods are probed with two verbs (each must be a problem+json 405), not all eight,
# to keep the file within its time budget.
CONFIG = fuzz.schemathesis_config(unexpected_methods=["put", "trace"])

server_url = fuzz.server_url_fixture("intake_api.app:app")
http = fuzz.http_fixture()
api_schema = fuzz.api_schema_fixture(CONFIG)
_schemathesis_pytest9_compat = fuzz.nodeid_compat_fixture()


@pytest.fixture
async def admin_headers(clean_state: None, session: Any) -> dict[str, str]:
    """A small city and its city admin, seeded after the clean-up (once: the operations are subtests)."""
    return await fuzz.seed_intake(session)


# All operations run as subtests of one test: one clean-up and one seed for the whole fuzz run.
schema = schemathesis.pytest.from_fixture("api_schema")


def _openapi() -> dict[str, Any]:
    from intake_api.app import app

    return app.openapi()


def test_server_serves_the_fuzzed_document(server_url: str) -> None:
    served = httpx.get(f"{server_url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == _openapi()


def test_every_link_names_an_operation() -> None:
    assert fuzz.broken_links(_openapi()) == []


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
        if fuzz.PROBLEM_JSON not in r.get("content", {})
    ]
    assert not_problem == [], "\n".join(not_problem)


def test_problem_json_answers_document_their_body_and_nothing_else() -> None:
    """A 4xx is documented as problem+json with the Problem schema, not as a plain JSON body never sent."""
    wrong = [
        f"{label}: {r.get('content', {})}"
        for label, r in _error_responses()
        if set(r.get("content", {})) != {fuzz.PROBLEM_JSON} or "schema" not in r["content"][fuzz.PROBLEM_JSON]
    ]
    assert wrong == [], f"{len(wrong)} 4xx answers documented otherwise, e.g.:\n" + "\n".join(wrong[:5])


@schema.parametrize()
@settings(FUZZ)
def test_every_operation_answers_as_documented(
    case: Any, server_url: str, http: requests.Session, admin_headers: dict[str, str]
) -> None:
    fuzz.call_and_validate(case, server_url, http, admin_headers, timeout=10)

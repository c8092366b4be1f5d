"""Property-based fuzzing of every scoring API operation over a real uvicorn server (schemathesis).

For every documented operation and every generated input, as a city admin, with a finished run of
2026-10 in the database: no 5xx; status, content type and body as the OpenAPI document says; every
4xx on `/v1` is RFC 9457 problem+json. The shared set-up (server, checks, settings, seed) is in
`tests/fuzz.py`.
"""

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import settings

from tests import fuzz

FUZZ = fuzz.hypothesis_profile("minqing-scoring-fuzz", max_examples=8)
CONFIG = fuzz.schemathesis_config(unexpected_methods=["put"])

server_url = fuzz.server_url_fixture("scoring_service.app:app")
http = fuzz.http_fixture()
api_schema = fuzz.api_schema_fixture(CONFIG)
_schemathesis_pytest9_compat = fuzz.nodeid_compat_fixture()


@pytest.fixture
async def admin_headers(clean_state: None, session: Any) -> dict[str, str]:
    """The small fixture, a finished run of 2026-10, and a city admin's bearer token."""
    return await fuzz.seed_scoring(session)


schema = schemathesis.pytest.from_fixture("api_schema")


def test_every_link_names_an_operation() -> None:
    from scoring_service.app import app

    assert fuzz.broken_links(app.openapi()) == []


@schema.parametrize()
@settings(FUZZ)
def test_every_operation_answers_as_documented(
    case: Any, server_url: str, http: requests.Session, admin_headers: dict[str, str]
) -> None:
    fuzz.call_and_validate(case, server_url, http, admin_headers, timeout=30)

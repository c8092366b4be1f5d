"""API8:2023 Security Misconfiguration: no CORS unless configured (and never a wildcard), no debug
pages or internals in errors, and production refuses development secrets."""

from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.exc import ProgrammingError

import services.org.service
import services.scoring.service
from shared.settings import DEV_PII_HASH_KEY, DEV_PII_KEYS, DEV_SECRET, Settings, get_settings
from tests.factories import make_api_key
from tests.kit import PROBLEM
from tests.settings import set_setting

EVIL = "https://evil.example"
STRONG = "s3cret-" + "x" * 40
LEAKS = ("SELECT", "password_hash", "Traceback", 'File "', ".py", "sqlalchemy", "asyncpg", "staff_accounts")


async def test_no_cors_headers_by_default(intake_client: Any, scoring_client: Any) -> None:
    for client in (intake_client, scoring_client):
        preflight = await client.options(
            "/v1/requests",
            headers={
                "Origin": EVIL,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key",
            },
        )
        assert "access-control-allow-origin" not in preflight.headers
        simple = await client.get("/healthz", headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in simple.headers
        assert "access-control-allow-credentials" not in simple.headers


async def test_configured_cors_echoes_only_the_listed_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    set_setting(monkeypatch, "cors_origins", ["https://minqing.example.cn"])
    from intake_api.app import create_app

    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test") as client:
        good = await client.options(
            "/v1/requests",
            headers={"Origin": "https://minqing.example.cn", "Access-Control-Request-Method": "POST"},
        )
        assert good.headers["access-control-allow-origin"] == "https://minqing.example.cn"
        bad = await client.options("/v1/requests", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
        assert bad.headers.get("access-control-allow-origin") in (None, "https://minqing.example.cn")
        simple = await client.get("/healthz", headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in simple.headers
        assert simple.headers.get("access-control-allow-credentials") is None


def test_production_refuses_development_secrets_short_keys_and_wildcard_cors() -> None:
    keys: dict[str, Any] = {"pii_keys": SecretStr("1:" + "A" * 44), "pii_hash_key": SecretStr("h" * 40)}
    Settings(env="production", secret_key=SecretStr(STRONG), **keys).check_production()
    bad_settings: list[dict[str, Any]] = [
        {"secret_key": SecretStr(DEV_SECRET), **keys},
        {"secret_key": SecretStr("short-secret"), **keys},
        {"secret_key": SecretStr(STRONG), "pii_keys": SecretStr(DEV_PII_KEYS), "pii_hash_key": keys["pii_hash_key"]},
        {"secret_key": SecretStr(STRONG), "pii_keys": keys["pii_keys"], "pii_hash_key": SecretStr(DEV_PII_HASH_KEY)},
        {"secret_key": SecretStr(STRONG), **keys, "cors_origins": ["*"]},
    ]
    for bad in bad_settings:
        with pytest.raises(RuntimeError):
            Settings(env="production", **bad).check_production()
    Settings(env="dev", secret_key=SecretStr(DEV_SECRET)).check_production()


def test_an_app_will_not_start_in_production_with_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    set_setting(monkeypatch, "env", "production")
    set_setting(monkeypatch, "secret_key", SecretStr(DEV_SECRET))
    from intake_api.app import create_app
    from scoring_service.app import create_app as create_scoring_app

    for factory in (create_app, create_scoring_app):
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            factory()


def test_debug_is_off() -> None:
    from intake_api.app import app
    from scoring_service.app import app as scoring_app

    assert app.debug is False and scoring_app.debug is False
    assert get_settings().env != "production" or get_settings().secret_key.get_secret_value() != DEV_SECRET


async def test_an_unexpected_failure_is_a_bare_500_without_internals(
    session: Any, intake_client: Any, scoring_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise ProgrammingError(
            "SELECT password_hash FROM staff_accounts WHERE username = 'admin'", {}, Exception("asyncpg boom")
        )

    monkeypatch.setattr(services.org.service, "list_categories", boom)
    monkeypatch.setattr(services.scoring.service, "public_units", boom)
    _, key = await make_api_key(session)
    await session.commit()
    for answer in (
        await intake_client.get("/v1/categories", headers={"X-API-Key": key}),
        await scoring_client.get("/v1/public/scores", params={"period": "2026-10"}),
    ):
        assert answer.status_code == 500, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["detail"] == "An unexpected error occurred"
        for leak in LEAKS:
            assert leak not in answer.text, leak


async def test_client_errors_are_problems_that_do_not_echo_input_or_internals(intake_client: Any) -> None:
    marker = "<script>SELECT-secret-marker</script>"
    for method, path, kwargs in (
        ("get", "/nowhere", {}),
        ("delete", "/v1/categories", {}),
        ("get", f"/v1/requests/{marker}", {}),
        ("post", "/v1/requests", {"content": b"{not json", "headers": {"X-API-Key": "mq_x"}}),
        ("post", "/v1/auth/token", {"data": {"username": marker}}),
        ("get", "/v1/requests/99999999999999999999999", {}),
    ):
        answer = await intake_client.request(method, path, **kwargs)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        assert answer.headers["content-type"] == PROBLEM, path
        body = answer.json()
        assert {"type", "title", "status", "detail"} <= set(body)
        assert (
            "SELECT-secret-marker" not in str(body.get("errors", "")) and "SELECT-secret-marker" not in body["detail"]
        )
        for leak in LEAKS[1:5]:
            assert leak not in answer.text, (path, leak)


async def test_answers_carry_basic_security_headers(intake_client: Any, scoring_client: Any) -> None:
    for client in (intake_client, scoring_client):
        answer = await client.get("/healthz")
        assert answer.headers.get("x-content-type-options") == "nosniff"
        assert answer.headers.get("x-frame-options") == "DENY"
    problem = await intake_client.get("/v1/requests")
    assert problem.headers.get("cache-control") == "no-store"

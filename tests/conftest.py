"""Test harness: a real PostgreSQL and Redis (127.0.0.1 when they answer, else embedded ones),
a freshly migrated database per run, and a clean state per test.

`MINQING_TEST_ENGINES=embedded` runs on the embedded servers `make run` gives a newcomer (PostgreSQL 18,
Redis 6.2) even when 127.0.0.1 answers; `make test` runs the tests marked `engines` (queue, rate limits,
relay, intake, trail) that way too, so an engine-version difference fails the suite.
"""

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DB = "minqing_test"
_embedded: list[Any] = []


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


_scratch: list[Path] = []


def _scratch_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _scratch.append(path)
    return path


def embedded_engines_requested() -> bool:
    return os.environ.get("MINQING_TEST_ENGINES", "local") == "embedded"


def _configure_servers() -> None:
    """Point settings at the test servers before any app module reads them."""
    embedded = embedded_engines_requested()
    if "TEST_DATABASE_URL" in os.environ and not embedded:
        database_url = os.environ["TEST_DATABASE_URL"]
    elif _answers(5432) and not embedded:
        database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{TEST_DB}"
    else:
        from cli.embedded import EmbeddedPostgres

        server = EmbeddedPostgres.start(_scratch_dir("minqing-test-pg-"), durable=False)
        server.create_database(TEST_DB)
        _embedded.append(server)
        database_url = server.url(TEST_DB)
    if "TEST_REDIS_URL" in os.environ and not embedded:
        redis_url = os.environ["TEST_REDIS_URL"]
    elif _answers(6379) and not embedded:
        redis_url = "redis://127.0.0.1:6379/15"
    else:
        from cli.embedded import EmbeddedRedis

        redis = EmbeddedRedis.start(_scratch_dir("minqing-test-redis-"), persist=False)
        _embedded.append(redis)
        redis_url = redis.url
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ENV": "test",
            "SECRET_KEY": "test-secret-key-for-minqing-tests-0123456789",
            "DB_POOL_SIZE": "5",
        }
    )


# The tests `make test` runs a second time on the embedded engines: whatever speaks to Redis (queue,
# relay, rate limits, login lockout, workers), leans on PostgreSQL's locking (intake, trail, handling) or on
# what its versions build differently (the search index's functions, partitioning).
ENGINE_SUITE = (
    "tests/shared/test_engines.py",
    "tests/shared/test_ratelimit.py",
    "tests/shared/test_unavailable.py",
    "tests/intake_api/test_requests.py",
    "tests/intake_api/test_track.py",
    "tests/intake_api/test_trail_concurrency.py",
    "tests/intake_api/test_handling.py",
    "tests/intake_api/test_open311.py",
    "tests/intake_api/test_webhooks.py",
    "tests/intake_api/test_search.py",
    "tests/services/lifecycle/test_partitions.py",
    "tests/routing_worker/",
    "tests/services/webhooks/test_delivery.py",
    "tests/services/alerts/test_jobs.py",
    "tests/scoring_service/test_jobs.py",
    "tests/security/test_api2_authentication.py",
    "tests/security/test_api4_resource_consumption.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.relative_to(ROOT).as_posix()
        if any(path == entry or (entry.endswith("/") and path.startswith(entry)) for entry in ENGINE_SUITE):
            item.add_marker(pytest.mark.engines)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "engines: also run on the embedded PostgreSQL 18 and Redis 6.2 (MINQING_TEST_ENGINES=embedded)"
    )
    config.addinivalue_line("markers", "pure: plain functions with no I/O: no database, no clean state")
    config.addinivalue_line(
        "markers", "browser: the console in headless Chromium against the real platform (tests/console/)"
    )
    _configure_servers()


async def _server_versions() -> tuple[str, str]:
    import asyncpg
    import redis.asyncio as aioredis
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        postgres = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        redis_version = str((await client.info("server"))["redis_version"])
    finally:
        await client.aclose()
    return postgres, redis_version


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which engines the run proved (`-q` hides the report header, so this goes at the end)."""
    postgres, redis_version = asyncio.run(_server_versions())
    where = "embedded" if embedded_engines_requested() else "127.0.0.1 or embedded fallback"
    terminalreporter.write_line(f"minqing engines ({where}): PostgreSQL {postgres}, Redis {redis_version}")


def pytest_unconfigure(config: pytest.Config) -> None:
    for server in _embedded:
        server.stop()
    for path in _scratch:
        shutil.rmtree(path, ignore_errors=True)


async def _recreate_database(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin_url = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def migrated_database() -> Iterator[None]:
    """A new database, brought to head by the real migrations (which proves them too)."""
    from alembic import command
    from alembic.config import Config

    asyncio.run(_recreate_database(os.environ["DATABASE_URL"]))
    config = Config(str(ROOT / "alembic.ini"))
    command.upgrade(config, "head")
    yield


def _pure(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("pure") is not None


@pytest.fixture
def database(request: pytest.FixtureRequest) -> None:
    """The migrated database (made once per run, when the first test that is not `pure` needs it)."""
    if not _pure(request):
        request.getfixturevalue("migrated_database")


@pytest.fixture(autouse=True)
async def clean_state(request: pytest.FixtureRequest, database: None) -> AsyncIterator[None]:
    """Every test starts on empty tables and an empty Redis database (a `pure` test touches neither)."""
    if _pure(request):
        yield
        return
    from sqlalchemy import text

    from services.identity.service import forget_api_keys
    from services.models import Base
    from services.org import geojson
    from services.org.repository import forget_cached
    from services.sla.service import invalidate as invalidate_sla_cache
    from shared.db import get_engine
    from shared.queue import get_queue

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with get_engine().begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await (await get_queue()).flushdb()
    forget_cached()
    forget_api_keys()
    invalidate_sla_cache()
    geojson.forget()
    yield


@pytest.fixture
async def session() -> AsyncIterator[Any]:
    from shared.db import get_sessionmaker

    async with get_sessionmaker()() as s:
        yield s
        await s.rollback()


@pytest.fixture
async def setup(session: Any) -> dict[str, Any]:
    """The handling setup of tests/factories.py (`make_handling_setup`), committed. A module that needs
    other data defines its own `setup`."""
    from tests.factories import make_handling_setup

    data: dict[str, Any] = await make_handling_setup(session)
    await session.commit()
    return data


@pytest.fixture
async def intake_client() -> AsyncIterator[Any]:
    import httpx

    from intake_api.app import app

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as client:
        yield client


@pytest.fixture
async def scoring_client() -> AsyncIterator[Any]:
    import httpx

    from scoring_service.app import app

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://scoring.test") as client:
        yield client


@pytest.fixture
def webhook_receiver() -> Iterator[Any]:
    """The suite's one fake webhook receiver (tests/kit.py), started on a free port for one test."""
    from tests.kit import WebhookReceiver

    with WebhookReceiver() as receiver:
        yield receiver

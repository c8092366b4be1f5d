"""Test harness: a real PostgreSQL and Redis (127.0.0.1 when they answer, else embedded ones),
a freshly migrated database per run, and a clean state per test."""

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


def _configure_servers() -> None:
    """Point settings at the test servers before any app module reads them."""
    if "TEST_DATABASE_URL" in os.environ:
        database_url = os.environ["TEST_DATABASE_URL"]
    elif _answers(5432):
        database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{TEST_DB}"
    else:
        from cli.embedded import EmbeddedPostgres

        server = EmbeddedPostgres.start(_scratch_dir("minqing-test-pg-"), durable=False)
        server.create_database(TEST_DB)
        _embedded.append(server)
        database_url = server.url(TEST_DB)
    if "TEST_REDIS_URL" in os.environ:
        redis_url = os.environ["TEST_REDIS_URL"]
    elif _answers(6379):
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


def pytest_configure(config: pytest.Config) -> None:
    _configure_servers()


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


@pytest.fixture(scope="session", autouse=True)
def migrated_database() -> Iterator[None]:
    """A new database, brought to head by the real migrations (which proves them too)."""
    from alembic import command
    from alembic.config import Config

    asyncio.run(_recreate_database(os.environ["DATABASE_URL"]))
    config = Config(str(ROOT / "alembic.ini"))
    command.upgrade(config, "head")
    yield


@pytest.fixture(autouse=True)
async def clean_state(migrated_database: None) -> AsyncIterator[None]:
    """Every test starts on empty tables and an empty Redis database."""
    from sqlalchemy import text

    from services.identity.service import forget_api_keys
    from services.models import Base
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
    yield


@pytest.fixture
async def session() -> AsyncIterator[Any]:
    from shared.db import get_sessionmaker

    async with get_sessionmaker()() as s:
        yield s
        await s.rollback()


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

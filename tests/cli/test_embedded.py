"""The embedded PostgreSQL and Redis of `make run`: start, serve, stop, restart on the same data.

These tests run servers of their own in a throwaway directory and need none of the suite's
shared database state, so the suite-wide autouse fixtures are replaced by no-ops here.
"""

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cli.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedServerError


@pytest.fixture(scope="session")
def migrated_database() -> None:
    """Not needed: these tests bring their own servers."""


@pytest.fixture
def clean_state() -> None:
    """Not needed: these tests bring their own servers."""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: its root is 0700 and PostgreSQL runs as another user when we are root.
    path = Path(tempfile.mkdtemp(prefix="minqing-embedded-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            rows: list[asyncpg.Record] = await conn.fetch(sql)
            return rows
        finally:
            await conn.close()

    return asyncio.run(run())


def _execute(dsn: str, *statements: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def _sqlalchemy_select_one(url: str) -> int:
    async def run() -> int:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(text("SELECT 1"))).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_postgres_serves_queries_and_keeps_rows_across_a_restart(data_dir: Path) -> None:
    server = EmbeddedPostgres.start(data_dir / "postgres")
    try:
        server.create_database("minqing")
        server.create_database("minqing")  # idempotent
        assert server.url("minqing") == f"postgresql+asyncpg://postgres@/minqing?host={data_dir / 'postgres'}"
        assert _sqlalchemy_select_one(server.url("minqing")) == 1
        assert [tuple(r) for r in _fetch(server.dsn("minqing"), "SELECT 1")] == [(1,)]
        _execute(server.dsn("minqing"), "CREATE TABLE petition (id int PRIMARY KEY, title text)")
        _execute(server.dsn("minqing"), "INSERT INTO petition VALUES (1, '路灯不亮')")
    finally:
        server.stop()
    assert not server.running
    assert not (data_dir / "postgres" / "pgdata" / "postmaster.pid").exists()

    again = EmbeddedPostgres.start(data_dir / "postgres")
    try:
        assert again.database_exists("minqing")
        rows = _fetch(again.dsn("minqing"), "SELECT id, title FROM petition")
        assert [tuple(r) for r in rows] == [(1, "路灯不亮")]
    finally:
        again.stop()


def test_redis_keeps_keys_across_a_restart_when_persisting(data_dir: Path) -> None:
    server = EmbeddedRedis.start(data_dir / "redis", persist=True)
    try:
        assert server.url.startswith("redis://127.0.0.1:")
        assert server.port != 6379
        client = redis.Redis.from_url(server.url)
        assert client.ping() is True
        client.set("minqing:probe", "民情")
        assert client.get("minqing:probe") == "民情".encode()
        client.close()
    finally:
        server.stop()
    assert not server.running

    again = EmbeddedRedis.start(data_dir / "redis", persist=True)
    try:
        client = redis.Redis.from_url(again.url)
        assert client.get("minqing:probe") == "民情".encode()
        client.close()
    finally:
        again.stop()


def test_redis_without_persistence_forgets_keys_on_restart(data_dir: Path) -> None:
    with EmbeddedRedis.start(data_dir / "redis", persist=False) as server:
        client = redis.Redis.from_url(server.url)
        client.set("minqing:probe", "1")
        client.close()
    with EmbeddedRedis.start(data_dir / "redis", persist=False) as again:
        client = redis.Redis.from_url(again.url)
        assert client.get("minqing:probe") is None
        client.close()


def test_servers_restart_after_kill_9_with_stale_pid_files_and_sockets(data_dir: Path) -> None:
    postgres = EmbeddedPostgres.start(data_dir / "postgres")
    store = EmbeddedRedis.start(data_dir / "redis", persist=True)
    try:
        postgres.create_database("minqing")
        _execute(postgres.dsn("minqing"), "CREATE TABLE kept (n int)", "INSERT INTO kept VALUES (42)")
        client = redis.Redis.from_url(store.url)
        client.set("kept", "42")
        client.close()
        time.sleep(1.2)  # appendfsync everysec: let the AOF reach the disk before the crash
        os.kill(postgres.pid, signal.SIGKILL)
        os.kill(store.pid, signal.SIGKILL)
    finally:
        postgres.stop()  # reaps the dead processes and releases the directory locks
        store.stop()
    pgdata = data_dir / "postgres" / "pgdata"
    assert (pgdata / "postmaster.pid").exists(), "a killed postmaster leaves its pid file behind"
    assert (data_dir / "redis" / "redis.pid").exists(), "a killed redis-server leaves its pid file behind"
    # The worst case after a reboot: the stale pids now belong to some unrelated live process.
    unrelated = subprocess.Popen(["sleep", "60"])
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    (pgdata / "postmaster.pid").write_text("\n".join([str(unrelated.pid), *lines[1:]]) + "\n")
    (data_dir / "redis" / "redis.pid").write_text(f"{unrelated.pid}\n")

    postgres = EmbeddedPostgres.start(data_dir / "postgres")
    store = EmbeddedRedis.start(data_dir / "redis", persist=True)
    try:
        assert unrelated.poll() is None, "the unrelated process must be left alone"
        assert [tuple(r) for r in _fetch(postgres.dsn("minqing"), "SELECT n FROM kept")] == [(42,)]
        client = redis.Redis.from_url(store.url)
        assert client.get("kept") == b"42"
        client.close()
    finally:
        store.stop()
        postgres.stop()
        unrelated.kill()
        unrelated.wait()


def test_a_data_dir_in_use_is_refused_and_freed_by_stop(data_dir: Path) -> None:
    first = EmbeddedRedis.start(data_dir / "redis", persist=False)
    try:
        with pytest.raises(EmbeddedServerError, match="in use by another process"):
            EmbeddedRedis.start(data_dir / "redis", persist=False)
    finally:
        first.stop()
    EmbeddedRedis.start(data_dir / "redis", persist=False).stop()

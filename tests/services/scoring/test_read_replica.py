"""SCORING_DATABASE_URL sends score computations' reads to a replica; writes stay on the primary."""

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.repository import read_snapshot
from shared.db import get_engine, get_read_engine
from shared.settings import get_settings
from tests.settings import set_setting


@pytest.fixture
def replica_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Another database on the same server stands in for the replica: where the reads land is what counts.
    url = make_url(get_settings().database_url).set(database="postgres").render_as_string(hide_password=False)
    set_setting(monkeypatch, "scoring_database_url", url)
    get_read_engine.cache_clear()
    yield url
    get_read_engine.cache_clear()


async def test_snapshot_reads_go_to_the_replica(replica_url: str, session: AsyncSession) -> None:
    async with read_snapshot() as snapshot:
        assert await snapshot.scalar(text("SELECT current_database()")) == "postgres"
        assert await snapshot.scalar(text("SHOW transaction_isolation")) == "repeatable read"
        assert await snapshot.scalar(text("SHOW transaction_read_only")) == "on"
    primary = make_url(get_settings().database_url).database
    assert await session.scalar(text("SELECT current_database()")) == primary
    await get_read_engine().dispose()


async def test_without_a_replica_the_snapshot_reads_the_primary() -> None:
    get_read_engine.cache_clear()
    assert get_read_engine() is get_engine()
    async with read_snapshot() as snapshot:
        assert (
            await snapshot.scalar(text("SELECT current_database()")) == make_url(get_settings().database_url).database
        )


def test_a_libpq_url_is_accepted_for_the_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORING_DATABASE_URL", "postgresql://reader@replica.internal:5432/minqing")
    assert type(get_settings())().scoring_database_url == "postgresql+asyncpg://reader@replica.internal:5432/minqing"

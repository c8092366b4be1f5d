"""The suite runs on the engines it claims: PostgreSQL 15-18 and Redis 6.2 or newer, the embedded ones
(PostgreSQL 18, Redis 6.2: what `make run` gives a newcomer) when MINQING_TEST_ENGINES=embedded."""

from sqlalchemy import text

from shared.db import get_engine
from shared.queue import get_queue
from tests.conftest import embedded_engines_requested


async def _versions() -> tuple[int, tuple[int, int]]:
    async with get_engine().connect() as conn:
        postgres_num = int((await conn.execute(text("SHOW server_version_num"))).scalar_one())
    redis_version = (await (await get_queue()).info("server"))["redis_version"]
    major, minor = (int(part) for part in str(redis_version).split(".")[:2])
    return postgres_num // 10000, (major, minor)


async def test_the_servers_are_supported_versions_and_the_embedded_ones_when_asked():
    postgres_major, redis_version = await _versions()
    assert 15 <= postgres_major <= 18
    assert redis_version >= (6, 2)
    if embedded_engines_requested():
        assert (postgres_major, redis_version) == (18, (6, 2))

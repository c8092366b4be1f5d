"""The arq client: jobs are enqueued after the unit of work commits, with business-key ids."""

from functools import lru_cache
from typing import Any

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import after_commit
from shared.settings import get_settings

DEFAULT_QUEUE = "minqing:default"
LONG_QUEUE = "minqing:long"

_pool: ArqRedis | None = None


@lru_cache
def redis_settings() -> RedisSettings:
    settings = RedisSettings.from_dsn(get_settings().redis_url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    return settings


async def get_queue() -> ArqRedis:
    global _pool
    if _pool is None:
        _pool = await create_pool(redis_settings(), default_queue_name=DEFAULT_QUEUE)
    return _pool


async def close_queue() -> None:
    global _pool
    if _pool is not None:
        await _pool.aclose()
        _pool = None


def enqueue_after_commit(
    session: AsyncSession, function: str, *args: Any, job_id: str, queue: str = DEFAULT_QUEUE
) -> None:
    """Enqueue `function` once the session commits; `job_id` is built from a business key.

    Redis may lose the job (flush, crash); the outbox relay re-sends it, and the id keeps a
    re-send from doubling work that is still queued.
    """

    async def _enqueue() -> None:
        pool = await get_queue()
        await pool.enqueue_job(function, *args, _job_id=job_id, _queue_name=queue)

    after_commit(session, _enqueue)

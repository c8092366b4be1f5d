"""The arq client: jobs are enqueued after the unit of work commits, with business-key ids."""

import asyncio
import logging
import time
from functools import lru_cache
from typing import Any

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import Deserializer, Serializer, serialize_job
from arq.utils import timestamp_ms
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import after_commit
from shared.redis_url import SentinelRedisSettings, parse_redis_url
from shared.settings import get_settings

logger = logging.getLogger("minqing.queue")
DEFAULT_QUEUE = "minqing:default"
LONG_QUEUE = "minqing:long"

_pool: ArqRedis | None = None
_scripts: dict[str, AsyncScript] = {}  # Lua source -> script bound to `_pool`

# After a Redis failure, calls that can do without Redis (rate-limit counters, enqueues the outbox
# relay repeats) skip it for a few seconds instead of each waiting for a connect timeout.
REDIS_BACKOFF_SECONDS = 5.0
_redis_down_until = 0.0


def redis_suspended() -> bool:
    return time.monotonic() < _redis_down_until


def note_redis_failure() -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + REDIS_BACKOFF_SECONDS


def is_redis_unreachable(exc: BaseException) -> bool:
    """A connection failure or timeout: Redis is away. Anything else (a refused command) is a bug."""
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)


def report_redis_error(log: logging.Logger, what: str, command: str, exc: RedisError | OSError, **extra: Any) -> None:
    """Log a failed Redis call as what it was; only an unreachable Redis suspends the Redis-optional calls."""
    if is_redis_unreachable(exc):
        note_redis_failure()
        log.warning(f"{what}: Redis unavailable", extra={**extra, "error": type(exc).__name__, "detail": str(exc)})
    else:
        # Redis answered and refused the command (e.g. syntax a server version lacks): say which and why.
        log.error(
            f"{what}: Redis command error",
            extra={**extra, "command": command, "error": type(exc).__name__, "detail": str(exc)},
        )


# `ArqRedis.enqueue_job`'s check-and-set (WATCH, EXISTS, MULTI/EXEC: three round trips) as one script:
# the job is stored and queued unless a job or a result with its id already exists.
_ENQUEUE_LUA = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


@lru_cache
def redis_settings() -> RedisSettings:
    """`REDIS_URL` (one server or a Sentinel set: shared/redis_url.py) with short connect timeouts and retries."""
    settings = parse_redis_url(get_settings().redis_url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    return settings


async def create_redis_pool(
    settings_: RedisSettings | None = None,
    *,
    retry: int = 0,
    job_serializer: Serializer | None = None,
    job_deserializer: Deserializer | None = None,
    default_queue_name: str = default_queue_name,
    expires_extra_ms: int = expires_extra_ms,
) -> ArqRedis:
    """arq's `create_pool`, except that a Sentinel set gets the connect timeout and retries of one server.

    arq 0.28 hands a Sentinel set to redis-py without `conn_timeout` (and without the Sentinels' password):
    a master or Sentinel host that is gone would hold every call for the system's TCP timeout, minutes.
    """
    settings = settings_ or RedisSettings()
    if not settings.sentinel:
        return await create_pool(
            settings,
            retry=retry,
            job_serializer=job_serializer,
            job_deserializer=job_deserializer,
            default_queue_name=default_queue_name,
            expires_extra_ms=expires_extra_ms,
        )
    pool = _sentinel_master(settings)
    pool.job_serializer = job_serializer
    pool.job_deserializer = job_deserializer
    pool.default_queue_name = default_queue_name
    pool.expires_extra_ms = expires_extra_ms
    while True:
        try:
            await pool.ping()
            return pool
        except (OSError, RedisError, TimeoutError) as exc:
            if retry >= settings.conn_retries:
                await pool.aclose()
                raise
            logger.warning(
                "Redis Sentinel: no master yet; retrying",
                extra={"master": settings.sentinel_master, "error": type(exc).__name__, "detail": str(exc)},
            )
            await asyncio.sleep(settings.conn_retry_delay)
            retry += 1


def _sentinel_master(settings: RedisSettings) -> ArqRedis:
    """A client of the master the Sentinels name, asked again whenever a connection is (re)made.

    redis-py's Sentinel pool looks the master up on every new connection and drops idle connections
    when the address changes, and a command that fails disconnects its connection: after a failover
    the next call reaches the new master (tests/shared/test_redis_sentinel.py proves it).
    """
    if isinstance(settings.host, str):
        raise RuntimeError("a Sentinel set's host is a list of (host, port)")
    sentinel_auth: dict[str, str | None] = {}
    if isinstance(settings, SentinelRedisSettings):
        sentinel_auth = {"username": settings.sentinel_username, "password": settings.sentinel_password}
    timeout = {"socket_connect_timeout": settings.conn_timeout}
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        settings.host,
        # A Sentinel answers at once or not at all: its reads get the connect timeout too.
        sentinel_kwargs={
            **timeout,
            "socket_timeout": settings.conn_timeout,
            **sentinel_auth,
        },
        **timeout,
        db=settings.database,
        username=settings.username,
        password=settings.password,
        ssl=settings.ssl,
        retry=settings.retry,
        retry_on_timeout=settings.retry_on_timeout,
        retry_on_error=settings.retry_on_error,
        max_connections=settings.max_connections,
        encoding="utf8",
    )
    master: ArqRedis = sentinel.master_for(settings.sentinel_master, redis_class=_SentinelArqRedis)
    return master


class _SentinelArqRedis(ArqRedis):
    """The arq client of a Sentinel-named master; closing it also closes its connections to the Sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if isinstance(self.connection_pool, SentinelConnectionPool):
            for sentinel in self.connection_pool.sentinel_manager.sentinels:
                await sentinel.aclose()


async def get_queue() -> ArqRedis:
    global _pool
    if _pool is None:
        _pool = await create_redis_pool(redis_settings(), default_queue_name=DEFAULT_QUEUE)
    return _pool


async def script(source: str) -> AsyncScript:
    """The Lua script `source` on the shared pool (EVALSHA, loaded on first use)."""
    pool = await get_queue()
    found = _scripts.get(source)
    if found is None:
        found = _scripts[source] = pool.register_script(source)
    return found


async def close_queue() -> None:
    global _pool, _redis_down_until
    _redis_down_until = 0.0
    _scripts.clear()
    if _pool is not None:
        await _pool.aclose()
        _pool = None


async def enqueue(function: str, *args: Any, job_id: str, queue: str = DEFAULT_QUEUE) -> bool:
    """Enqueue an arq job now, in one round trip; False when a job with this id is queued or done already."""
    pool = await get_queue()
    enqueue_script = await script(_ENQUEUE_LUA)
    now_ms = timestamp_ms()
    job = serialize_job(function, args, {}, None, now_ms, serializer=pool.job_serializer)
    keys = [job_key_prefix + job_id, result_key_prefix + job_id, queue]
    added = await enqueue_script(keys=keys, args=[pool.expires_extra_ms, job, now_ms, job_id])
    return bool(added)


def enqueue_after_commit(
    session: AsyncSession, function: str, *args: Any, job_id: str, queue: str = DEFAULT_QUEUE
) -> None:
    """Enqueue `function` once the session commits; `job_id` is built from a business key.

    Redis may lose the job (flush, crash); the outbox relay re-sends it, and the id keeps a
    re-send from doubling work that is still queued.
    """

    async def _enqueue() -> None:
        # The work is committed: answer as such. The outbox relay (or the stale-run sweep) re-sends the job.
        if redis_suspended():
            logger.warning("enqueue skipped: Redis unavailable; left to the relay", extra={"job_id": job_id})
            return
        try:
            await enqueue(function, *args, job_id=job_id, queue=queue)
        except (RedisError, OSError) as exc:
            report_redis_error(logger, "enqueue failed; left to the relay", "EVALSHA enqueue", exc, job_id=job_id)

    after_commit(session, _enqueue)

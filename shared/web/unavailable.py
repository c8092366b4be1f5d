"""Whether an error means PostgreSQL or Redis is away (503 with Retry-After), not a fault (500)."""

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes and codes that mean "the database is not there right now", not "your input is wrong":
# connection exceptions (08), operator intervention (57: shutdown, starting up, cancelled), insufficient
# resources (53: too many connections) and a database closed to new connections (55000, ALLOW_CONNECTIONS).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def is_backend_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or anything that caused it, says PostgreSQL or Redis is unreachable: 503, not 500."""
    # The driver's error can sit under SQLAlchemy's, an adapter's, a rollback's or an exception group's.
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < 20:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if _says_unavailable(error):
            return True
        pending.extend(e for e in (error.__cause__, error.__context__) if e is not None)
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
    return False


def _says_unavailable(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, (OSError, ConnectionError, TimeoutError, RedisConnectionError, RedisTimeoutError)):
        return True
    if isinstance(error, (PoolTimeout, asyncpg.exceptions.PostgresConnectionError)):
        return True
    if isinstance(error, asyncpg.exceptions.InterfaceError) and "closed" in str(error):
        return True
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and (
        sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or (sqlstate == "55000" and "accepting connections" in str(error))
    )

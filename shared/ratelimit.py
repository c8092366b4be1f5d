"""Fixed-window rate limits kept in Redis, shared by every process."""

import logging
import time

from redis.exceptions import RedisError

from shared.errors import AppError
from shared.queue import get_queue, note_redis_failure, redis_suspended

logger = logging.getLogger("minqing.ratelimit")


class TooManyRequests(AppError):
    status = 429
    title = "Too many requests"


async def hit(bucket: str, limit: int, window_seconds: int) -> None:
    """Count one call against `bucket`; raise 429 with Retry-After past `limit` per window."""
    window = int(time.time() // window_seconds)
    key = f"minqing:rate:{bucket}:{window}"
    # Fail open: intake must go on while Redis is down (the outbox keeps the jobs); limits resume with it.
    if redis_suspended():
        return
    try:
        redis = await get_queue()
        # One round trip: integrations' keys are counted on every call, so this sits on the intake hot path.
        async with redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds + 1, nx=True)
            count, _ = await pipe.execute()
    except (RedisError, OSError) as exc:
        note_redis_failure()
        logger.warning(
            "rate limit not counted: Redis unavailable", extra={"bucket": bucket, "error": type(exc).__name__}
        )
        return
    if count > limit:
        retry = window_seconds - int(time.time() % window_seconds)
        raise TooManyRequests(
            f"More than {limit} calls in {window_seconds} s; retry later", headers={"Retry-After": str(retry)}
        )

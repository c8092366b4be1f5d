"""Fixed-window rate limits kept in Redis, shared by every process."""

import time

from shared.errors import AppError
from shared.queue import get_queue


class TooManyRequests(AppError):
    status = 429
    title = "Too many requests"


async def hit(bucket: str, limit: int, window_seconds: int) -> None:
    """Count one call against `bucket`; raise 429 with Retry-After past `limit` per window."""
    window = int(time.time() // window_seconds)
    key = f"minqing:rate:{bucket}:{window}"
    redis = await get_queue()
    count = await redis.incr(key)
    if count == 1:
        await redis.expire(key, window_seconds + 1)
    if count > limit:
        retry = window_seconds - int(time.time() % window_seconds)
        raise TooManyRequests(
            f"More than {limit} calls in {window_seconds} s; retry later", headers={"Retry-After": str(retry)}
        )

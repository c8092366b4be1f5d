"""Fixed-window rate limits kept in Redis, shared by every process."""

import logging
import time

from redis.exceptions import RedisError

from shared.errors import TooManyRequests
from shared.queue import redis_suspended, report_redis_error, script

logger = logging.getLogger("minqing.ratelimit")

# Count a call and start the window's expiry on its first call, atomically and in one round trip.
# A script rather than `EXPIRE key ttl NX`: that option needs Redis 7, and the embedded server is 6.2.
_COUNT_LUA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


async def count(key: str, ttl_seconds: int) -> int:
    """Add one to the counter `key` (created with a lifetime of `ttl_seconds`); the new count."""
    count_script = await script(_COUNT_LUA)
    return int(await count_script(keys=[key], args=[ttl_seconds]))


async def hit(bucket: str, limit: int, window_seconds: int) -> None:
    """Count one call against `bucket`; raise 429 with Retry-After past `limit` per window."""
    window = int(time.time() // window_seconds)
    key = f"minqing:rate:{bucket}:{window}"
    # Fail open: intake must go on while Redis is down (the outbox keeps the jobs); limits resume with it.
    if redis_suspended():
        return
    try:
        # One round trip: integrations' keys are counted on every call, so this sits on the intake hot path.
        calls = await count(key, window_seconds + 1)
    except (RedisError, OSError) as exc:
        report_redis_error(logger, "rate limit not counted", "EVALSHA count", exc, bucket=bucket)
        return
    if calls > limit:
        retry = window_seconds - int(time.time() % window_seconds)
        raise TooManyRequests(
            f"More than {limit} calls in {window_seconds} s; retry later", headers={"Retry-After": str(retry)}
        )

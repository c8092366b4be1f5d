"""Rate limits and enqueues on every supported Redis (6.2 and newer): counted, expiring, and a refused
command reported as what it is, without taking Redis for down."""

import logging
import time

import pytest
from sqlalchemy import func, select

import shared.queue
from services.models import OutboxEntry
from shared.errors import TooManyRequests
from shared.queue import DEFAULT_QUEUE, get_queue, redis_suspended
from shared.ratelimit import count, hit
from tests.factories import at_grid, make_handling_setup


def _window_key(bucket: str, window: int) -> str:
    return f"minqing:rate:{bucket}:{int(time.time() // window)}"


async def test_the_call_past_the_limit_is_refused_with_retry_after():
    bucket = "test:limit"
    for _ in range(3):
        await hit(bucket, 3, 60)
    with pytest.raises(TooManyRequests) as refused:
        await hit(bucket, 3, 60)
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60


async def test_a_window_counter_expires_after_its_window():
    redis = await get_queue()
    await hit("test:ttl", 10, 60)
    key = _window_key("test:ttl", 60)
    assert int(await redis.get(key)) == 1
    assert 0 < await redis.ttl(key) <= 61
    await hit("test:ttl", 10, 60)
    assert int(await redis.get(key)) == 2 and 0 < await redis.ttl(key) <= 61


async def test_count_sets_the_lifetime_on_the_first_call_only():
    redis = await get_queue()
    assert await count("minqing:test:count", 100) == 1
    await redis.expire("minqing:test:count", 5)
    assert await count("minqing:test:count", 100) == 2
    assert await redis.ttl("minqing:test:count") <= 5


async def test_a_refused_command_is_logged_as_a_command_error_and_redis_is_not_taken_for_down(caplog):
    redis = await get_queue()
    await redis.set(_window_key("test:broken", 60), "not a number")
    with caplog.at_level(logging.WARNING, logger="minqing.ratelimit"):
        await hit("test:broken", 10, 60)  # fails open
    [record] = [r for r in caplog.records if r.name == "minqing.ratelimit"]
    assert record.getMessage() == "rate limit not counted: Redis command error"
    assert record.levelno == logging.ERROR
    assert record.command == "EVALSHA count" and "not an integer" in record.detail
    assert not redis_suspended()
    await hit("test:other", 10, 60)  # the next call still reaches Redis
    assert int(await redis.get(_window_key("test:other", 60))) == 1


async def test_an_unreachable_redis_suspends_the_optional_calls(monkeypatch, caplog):
    from arq.connections import RedisSettings

    await shared.queue.close_queue()
    dead = RedisSettings(host="127.0.0.1", port=1, conn_timeout=1, conn_retries=0)
    monkeypatch.setattr(shared.queue, "redis_settings", lambda: dead)
    with caplog.at_level(logging.WARNING, logger="minqing.ratelimit"):
        await hit("test:down", 10, 60)
    assert [r.getMessage() for r in caplog.records if r.name == "minqing.ratelimit"] == [
        "rate limit not counted: Redis unavailable"
    ]
    assert redis_suspended()
    monkeypatch.undo()
    await shared.queue.close_queue()


async def test_a_refused_enqueue_leaves_the_job_to_the_relay_without_suspending_redis(session, intake_client, caplog):
    setup = await make_handling_setup(session)
    await session.commit()
    redis = await get_queue()
    await redis.set(DEFAULT_QUEUE, "not a sorted set")  # ZADD on it is refused (WRONGTYPE)
    with caplog.at_level(logging.WARNING, logger="minqing.queue"):
        r = await intake_client.post("/v1/requests", json=at_grid(0), headers=setup["key"])
    assert r.status_code == 201, r.text
    [record] = [r for r in caplog.records if r.name == "minqing.queue"]
    assert record.getMessage() == "enqueue failed; left to the relay: Redis command error"
    assert "WRONGTYPE" in record.detail
    assert not redis_suspended()
    pending = await session.scalar(
        select(func.count()).select_from(OutboxEntry).where(OutboxEntry.processed_at.is_(None))
    )
    assert pending == 1

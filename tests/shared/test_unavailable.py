"""A backing service goes away: PostgreSQL answers 503 with Retry-After, Redis down does not stop intake."""

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from arq.connections import RedisSettings
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

import shared.queue
from routing_worker.jobs.route_jobs import relay_outbox
from services.models import OutboxEntry, Request
from shared.db import discard_pooled_connections
from shared.settings import get_settings
from shared.web.unavailable import is_backend_unavailable
from tests.factories import at_grid
from tests.kit import PROBLEM, drain


@pytest.fixture
async def database_closed() -> AsyncIterator[None]:
    """The test database refuses new connections and every open one is cut, as in a PostgreSQL restart."""
    url = make_url(get_settings().database_url)
    admin = await asyncpg.connect(url.set(drivername="postgresql", database="postgres").render_as_string(False))
    name = url.database
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
        await discard_pooled_connections()  # the next test starts with live connections


async def break_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the apps' Redis at a port where nothing listens (the queue pool is rebuilt)."""
    await shared.queue.close_queue()
    dead = RedisSettings(host="127.0.0.1", port=1, conn_timeout=1, conn_retries=0)
    monkeypatch.setattr(shared.queue, "redis_settings", lambda: dead)


async def test_postgres_down_answers_503_problem_with_retry_after(
    intake_client: Any, scoring_client: Any, setup: dict[str, Any], database_closed: None
) -> None:
    answers = [
        await intake_client.post("/v1/requests", json=at_grid(0), headers=setup["key"]),
        await intake_client.get("/v1/categories", headers=setup["key"]),
        await intake_client.get("/open311/v2/services.json"),
        await scoring_client.get("/v1/public/scores", params={"period": "2026-11"}),
    ]
    for answer in answers:
        assert answer.status_code == 503, (answer.request.url, answer.text)
        assert int(answer.headers["retry-after"]) > 0
    assert answers[0].headers["content-type"] == PROBLEM
    assert answers[0].json()["title"] == "Service unavailable"


async def test_intake_recovers_once_postgres_is_back(
    intake_client: Any, setup: dict[str, Any], session: AsyncSession
) -> None:
    url = make_url(get_settings().database_url)
    admin = await asyncpg.connect(url.set(drivername="postgresql", database="postgres").render_as_string(False))
    try:
        # Every pooled connection dies under the app (a restart): the next request must not fail on one.
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.database,
        )
    finally:
        await admin.close()
    answer = await intake_client.post("/v1/requests", json=at_grid(0), headers=setup["key"])
    assert answer.status_code in (201, 503), answer.text
    if answer.status_code == 503:  # a pooled connection that had died: the pool is renewed, the retry succeeds
        answer = await intake_client.post("/v1/requests", json=at_grid(0), headers=setup["key"])
    assert answer.status_code == 201, answer.text
    # Every other pooled connection died too; the app's own reads and writes recover as well.
    for _ in range(3):
        listed = await intake_client.get("/v1/requests", headers=setup["key"])
        assert listed.status_code == 200, listed.text


async def test_redis_down_intake_commits_and_the_relay_sends_the_job_later(
    intake_client: Any, setup: dict[str, Any], session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await break_redis(monkeypatch)
    answer = await intake_client.post("/v1/requests", json=at_grid(0), headers=setup["key"])
    assert answer.status_code == 201, answer.text  # the per-key rate limit fails open, the job waits in the outbox
    created = answer.json()
    assert await session.scalar(select(func.count()).where(OutboxEntry.request_id == created["id"])) == 1
    tracked = await intake_client.get(f"/v1/track/{created['tracking_no']}", params={"phone_last4": "1234"})
    assert tracked.status_code == 200
    assert shared.queue.redis_suspended()  # the next calls skip Redis for a while instead of timing out
    other = at_grid(2, citizen={"name": "李四", "phone": "13900005678"})
    again = await intake_client.post("/v1/requests", json=other, headers=setup["key"])
    assert again.status_code == 201, again.text

    # Redis is back: the relay (past its grace period) sends the job and the worker routes the request.
    monkeypatch.undo()
    await shared.queue.close_queue()
    await session.execute(update(OutboxEntry).values(created_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 5)))
    await session.commit()
    assert not shared.queue.redis_suspended()
    assert await relay_outbox({}) == 2
    await drain()
    for sent in (answer, again):
        request = await session.get(Request, sent.json()["id"], populate_existing=True)
        assert request is not None and request.status == "assigned"


def _chained(error: Exception, depth: int) -> Exception:
    """`error` under `depth` layers of unrelated exceptions, each raised while handling the one below."""
    for layer in range(depth):
        wrapper = RuntimeError(f"layer {layer}")
        wrapper.__context__ = error
        error = wrapper
    return error


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (FileNotFoundError(2, "No such file or directory"), True),  # PostgreSQL's unix socket is gone
        (_chained(ConnectionRefusedError(), 8), True),
        (
            ExceptionGroup("task group", [ValueError("x"), _chained(asyncpg.exceptions.CannotConnectNowError(), 2)]),
            True,
        ),
        (_chained(ValueError("a bug"), 3), False),
        (ExceptionGroup("task group", [KeyError("k")]), False),
    ],
)
def test_an_unavailable_backend_is_recognised_under_any_wrapping(error: BaseException, unavailable: bool) -> None:
    assert is_backend_unavailable(error) is unavailable

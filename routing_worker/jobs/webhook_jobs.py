"""The webhook sweep: send due deliveries every 5 seconds, on as many workers as run it."""

import logging
import time
from dataclasses import asdict
from typing import Any

import httpx

from routing_worker import metrics
from routing_worker.tasks import cron_task
from services.webhooks.service import BATCH_SIZE, DeliveryStats, deliver_due, make_client
from shared.db import unit_of_work

logger = logging.getLogger("minqing.webhooks")

# Keep taking batches while they come back full, for at most this long: the worker's job timeout is
# 20 s, and the next sweep starts 5 s later anyway.
SWEEP_BUDGET_SECONDS = 10.0

_client: httpx.AsyncClient | None = None


def shared_client() -> httpx.AsyncClient:
    """One HTTP client per worker process, made on first use (no keep-alive, so nothing goes stale)."""
    global _client
    if _client is None or _client.is_closed:
        _client = make_client()
    return _client


@cron_task(second=set(range(0, 60, 5)))
async def deliver_webhooks(ctx: dict[str, Any]) -> dict[str, int]:
    """Send the deliveries that are due; each batch claims, sends and records in separate transactions."""
    total = DeliveryStats()
    started = time.monotonic()
    while True:
        # deliver_due opens its own short units of work: one to claim, one to record the outcomes,
        # so no transaction (and no row lock) stays open while receivers answer.
        stats = await deliver_due(unit_of_work, shared_client())
        metrics.record_deliveries(asdict(stats))
        for name, value in asdict(stats).items():
            setattr(total, name, getattr(total, name) + value)
        if stats.claimed < BATCH_SIZE or time.monotonic() - started > SWEEP_BUDGET_SECONDS:
            break
    if total.claimed:
        logger.info("webhook sweep", extra=asdict(total))
    return asdict(total)


async def close_shared_client() -> None:
    """Close the worker's HTTP client (for the worker's shutdown hook)."""
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None

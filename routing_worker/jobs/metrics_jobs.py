"""Refreshing the workers' gauges read from Redis and PostgreSQL (docs/operations.md, "Metrics"): every
15 s on each routing worker, so a scrape never waits on the database."""

from typing import Any

from routing_worker import metrics
from routing_worker.tasks import cron_task
from shared.queue import get_queue


@cron_task(second={0, 15, 30, 45}, run_at_startup=True)
async def refresh_metrics(ctx: dict[str, Any]) -> None:
    """Queue depth and age, outbox backlog, yellow and red cards by district: a few indexed reads."""
    await metrics.refresh(ctx.get("redis") or await get_queue())

"""The SLA sweep, several times a minute (SPEC §6: at least every minute)."""

import logging
import time
from typing import Any

from routing_worker import metrics
from routing_worker.tasks import cron_task, task
from services.lifecycle.deadlines import recompute_ahead
from services.lifecycle.sweep import sla_clock
from shared.db import unit_of_work

logger = logging.getLogger("minqing.sla")


@cron_task(second={0, 20, 40}, run_at_startup=True)
async def sla_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Turn requests yellow or red as their deadlines near and pass (red escalates a level), climb still-overdue
    ones a level further each escalation delay, and close unevaluated ones after 7 days."""
    started = time.perf_counter()
    async with unit_of_work() as session:
        counts = await sla_clock(session)
    metrics.record_sla_sweep(time.perf_counter() - started, counts)
    if any(counts.values()):
        logger.info("sla sweep", extra=counts)
    return counts


@task
async def recompute_deadlines(ctx: dict[str, Any]) -> int:
    """After the holiday table changed: recompute the deadlines still ahead, batch by batch."""
    after: int | None = 0
    batches = 0
    while after is not None:
        async with unit_of_work() as session:
            after = await recompute_ahead(session, after)
        batches += 1
    return batches

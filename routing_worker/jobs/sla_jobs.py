"""The SLA sweep, several times a minute (SPEC §6: at least every minute)."""

import logging
from typing import Any

from routing_worker.tasks import cron_task
from services.sla.sweep import sweep
from shared.db import unit_of_work

logger = logging.getLogger("minqing.sla")


@cron_task(second={0, 20, 40}, run_at_startup=True)
async def sla_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Turn requests yellow or red as their deadlines near and pass; close unevaluated ones after 7 days."""
    async with unit_of_work() as session:
        counts = await sweep(session)
    if any(counts.values()):
        logger.info("sla sweep", extra=counts)
    return counts

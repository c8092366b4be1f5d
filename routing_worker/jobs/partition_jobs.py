"""Monthly partitions kept ahead (services/lifecycle/partitions.py): hourly, and at the worker's start."""

import logging
from datetime import UTC, datetime
from typing import Any

from routing_worker.tasks import cron_task
from services.lifecycle.partitions import roll
from shared.db import unit_of_work

logger = logging.getLogger("minqing.partitions")


@cron_task(minute={0}, second={5}, run_at_startup=True)
async def roll_partitions(ctx: dict[str, Any]) -> int:
    """Create this month's and next month's partitions where missing; move the id sequence into this
    month's. Answers how many partitions it created."""
    async with unit_of_work() as session:
        result = await roll(session, datetime.now(UTC))
    if result.created or result.sequence_moved_to is not None:
        logger.info("partitions rolled", extra={"created": list(result.created), "sequence": result.sequence_moved_to})
    return len(result.created)

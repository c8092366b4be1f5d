"""Sealing the trails every minute (issue 17, docs/operations.md): several workers may run it at once (an
advisory lock makes one seal)."""

import logging
from typing import Any

from routing_worker.tasks import cron_task
from services.lifecycle.seals import seal
from shared.db import unit_of_work

logger = logging.getLogger("minqing.seals")


@cron_task(second={30})
async def seal_trails(ctx: dict[str, Any]) -> int:
    """Seal the heads of the request trails changed since the last seal and the new admin audit rows;
    answers how many heads the seal holds (0: nothing new)."""
    async with unit_of_work() as session:
        record = await seal(session)
        if record is None:
            return 0
        logger.info("trails sealed", extra={"seal_no": record.seal_no, "leaves": record.leaves})
        return record.leaves

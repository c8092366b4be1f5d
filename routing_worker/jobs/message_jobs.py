"""The messages sweep (docs/messages.md): send due messages to citizens every 3 seconds, on as many workers as run it."""

import logging
import time
from dataclasses import asdict
from typing import Any

from routing_worker.tasks import cron_task
from services.messages.gateway import gateway_config, make_client
from services.messages.sender import BATCH_SIZE, SendStats, send_due
from shared.db import unit_of_work

logger = logging.getLogger("minqing.messages")

# Keep taking batches while they come back full, for at most this long (the job timeout is 20 s).
SWEEP_BUDGET_SECONDS = 10.0


@cron_task(second=set(range(1, 60, 3)))
async def send_citizen_messages(ctx: dict[str, Any]) -> dict[str, int]:
    """Send the messages that are due: SMS through the gateway, `citizen.notify` to the integrations' webhooks."""
    total = SendStats()
    started = time.monotonic()
    async with make_client(gateway_config()) as client:
        while True:
            stats = await send_due(unit_of_work, client)
            total.add(stats)
            if stats.claimed < BATCH_SIZE or time.monotonic() - started > SWEEP_BUDGET_SECONDS:
                break
    if total.claimed:
        logger.info("messages sweep", extra=asdict(total))
    return asdict(total)

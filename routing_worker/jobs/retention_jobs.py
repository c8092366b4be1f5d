"""Retention, every hour at minute 17 (issue 17, docs/operations.md): prune what the platform no longer
keeps and erase closed requests' citizen data past its age. Safe on several workers at once (every batch
takes its rows with SKIP LOCKED)."""

from typing import Any

from routing_worker.tasks import cron_task
from services.lifecycle import retention
from shared.db import unit_of_work
from shared.queue import get_queue


@cron_task(minute={17}, second={0})
async def prune_and_erase(ctx: dict[str, Any]) -> dict[str, int]:
    """One retention run; answers what it removed, by kind."""
    record = await retention.run(unit_of_work, await get_queue())
    return dict(record.counts)

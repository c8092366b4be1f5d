"""The hot-spot scan, every 5 minutes (SPEC §6); several workers may run it at once safely."""

from datetime import UTC, datetime
from typing import Any

from routing_worker import metrics
from routing_worker.tasks import cron_task
from services.alerts.service import scan
from shared.db import unit_of_work


@cron_task(minute=set(range(0, 60, 5)), second={0})
async def scan_hotspots(ctx: dict[str, Any]) -> int:
    """Raise the hot-spot alerts due now; returns how many were new."""
    async with unit_of_work() as session:
        alerts = await scan(session, datetime.now(UTC))
    metrics.record_hotspots((alert.category_root, alert.key_group) for alert in alerts)
    return len(alerts)

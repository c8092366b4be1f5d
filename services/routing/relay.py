"""The outbox relay: re-send routing jobs that Redis lost (flush, crash, restart)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import OutboxEntry

# Give the after-commit enqueue time to happen before treating an entry as lost.
GRACE = timedelta(seconds=2)
BATCH = 1000


async def pending_jobs(session: AsyncSession, now: datetime | None = None) -> list[tuple[str, int, int]]:
    """(job id, request id, version) of routing work committed but not yet done."""
    cutoff = (now or datetime.now(UTC)) - GRACE
    rows = await session.execute(
        select(OutboxEntry.job_id, OutboxEntry.request_id, OutboxEntry.payload)
        .where(OutboxEntry.processed_at.is_(None), OutboxEntry.topic == "route", OutboxEntry.created_at <= cutoff)
        .order_by(OutboxEntry.id)
        .limit(BATCH)
    )
    return [(job_id, request_id, int(payload["version"])) for job_id, request_id, payload in rows.all() if request_id]

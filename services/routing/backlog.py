"""How far the outbox is behind: what the workers' metrics show (docs/operations.md, "Metrics")."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import OutboxEntry

# Every topic the outbox carries today; each is reported (0 when empty) so that an alert on it never
# goes silent for lack of a series.
TOPICS = ("route",)


@dataclass(frozen=True, slots=True)
class Backlog:
    topic: str
    entries: int  # not processed yet
    oldest: datetime | None  # the oldest of those entries' creation time


async def outbox_backlog(session: AsyncSession) -> list[Backlog]:
    """The unprocessed outbox entries per topic and the oldest one's age (over the pending-entries index)."""
    rows = await session.execute(
        select(OutboxEntry.topic, func.count(), func.min(OutboxEntry.created_at))
        .where(OutboxEntry.processed_at.is_(None))
        .group_by(OutboxEntry.topic)
    )
    found = {topic: Backlog(topic, int(count), oldest) for topic, count, oldest in rows.all()}
    return [found.get(topic, Backlog(topic, 0, None)) for topic in TOPICS] + [
        backlog for topic, backlog in sorted(found.items()) if topic not in TOPICS
    ]

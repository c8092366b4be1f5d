"""Deadlines still ahead, recomputed after the calendar changed (the long-job `recompute_deadlines`)."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Request, RequestEvent
from services.sla import service as sla
from services.sla.policy import deadlines, pick_policy

RECOMPUTE_BATCH = 1000


async def recompute_ahead(session: AsyncSession, after_id: int = 0) -> int | None:
    """Recompute deadlines still ahead for one batch of open requests; answers the last id, or None when done.

    Deadlines already passed stay as they are (the SLA standing they caused is history). Suspended
    requests, and ones whose clock was paused or restarted (reopened), keep theirs: their deadlines
    carry pauses that the calendar alone cannot replay.
    """
    sla.invalidate()
    calendar = await sla.calendar(session)
    policies = await sla.policies(session)
    now = datetime.now(UTC)
    rows = list(
        await session.scalars(
            select(Request)
            .where(
                Request.id > after_id,
                Request.status.in_(("received", "assigned", "accepted", "needs_dispatch")),
                Request.reopen_count == 0,
                Request.resolve_by > now,
            )
            .order_by(Request.id)
            .limit(RECOMPUTE_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for request in rows:
        if await _was_paused(session, request.id):
            continue
        due = deadlines(calendar, pick_policy(policies, request.category_code, request.priority), request.received_at)
        if request.respond_by > now:
            request.respond_by, request.respond_warn_at = due.respond_by, due.respond_warn_at
        request.resolve_by, request.resolve_warn_at = due.resolve_by, due.resolve_warn_at
    return rows[-1].id if len(rows) == RECOMPUTE_BATCH else None


async def _was_paused(session: AsyncSession, request_id: int) -> bool:
    found = await session.scalar(
        select(RequestEvent.id).where(RequestEvent.request_id == request_id, RequestEvent.kind == "resumed").limit(1)
    )
    return found is not None

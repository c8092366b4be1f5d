"""The admin's calendar table (holidays and make-up working days) and what depends on it."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import CalendarDay, Request, RequestEvent
from services.org.service import require_city_admin
from services.sla import service as sla
from services.sla.calendar import SHANGHAI
from services.sla.policy import deadlines, pick_policy
from shared.auth import Principal
from shared.errors import InvalidInput, NotFound, field_error
from shared.queue import LONG_QUEUE, enqueue_after_commit

COVERAGE_DAYS = 60
RECOMPUTE_TASK = "recompute_deadlines"
RECOMPUTE_BATCH = 1000


async def coverage_warnings(session: AsyncSession, today: date | None = None) -> list[str]:
    """A warning when some of the next 60 days are known neither to the official calendar nor to the table."""
    calendar = await sla.calendar(session)
    start = today or datetime.now(SHANGHAI).date()
    missing = calendar.uncovered_days(start, COVERAGE_DAYS)
    if not missing:
        return []
    return [
        f"calendar: {len(missing)} of the next {COVERAGE_DAYS} days ({missing[0]} .. {missing[-1]}) are not in the "
        "official calendar or the holiday table; they count as Monday-Friday working days. Add them at "
        "PUT /v1/admin/calendar/{day}."
    ]


async def list_days(session: AsyncSession, start: date, end: date) -> list[CalendarDay]:
    if end < start or end - start > timedelta(days=3660):
        raise InvalidInput("Give a range of at most ten years", errors=[field_error(["query", "to"], "bad range")])
    return list(
        await session.scalars(
            select(CalendarDay).where(CalendarDay.day >= start, CalendarDay.day <= end).order_by(CalendarDay.day)
        )
    )


async def set_day(
    session: AsyncSession, principal: Principal, day: date, is_workday: bool, note: str | None
) -> CalendarDay:
    require_city_admin(principal)
    row = await session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day, is_workday=is_workday, note=note)
        session.add(row)
    else:
        row.is_workday, row.note = is_workday, note
    await session.flush()
    _after_change(session)
    return row


async def delete_day(session: AsyncSession, principal: Principal, day: date) -> None:
    require_city_admin(principal)
    row = await session.get(CalendarDay, day)
    if row is None:
        raise NotFound(f"No calendar entry for {day}")
    await session.delete(row)
    await session.flush()
    _after_change(session)


def _after_change(session: AsyncSession) -> None:
    sla.invalidate()
    enqueue_after_commit(
        session, RECOMPUTE_TASK, job_id=f"{RECOMPUTE_TASK}:{datetime.now(UTC).isoformat()}", queue=LONG_QUEUE
    )


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

"""The admin's calendar table (holidays and make-up working days) and what depends on it."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.models import CalendarDay
from services.sla import service as sla
from services.sla.calendar import SHANGHAI
from services.sla.errors import CalendarDayNotFound
from shared.auth import Principal, require_city_admin
from shared.errors import InvalidInput, field_error
from shared.queue import LONG_QUEUE, enqueue_after_commit

COVERAGE_DAYS = 60
RECOMPUTE_TASK = "recompute_deadlines"
CALENDAR_AUDIT_FIELDS = ("day", "is_workday", "note")


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
    before = None if row is None else audit.snapshot(row, CALENDAR_AUDIT_FIELDS)
    if row is None:
        row = CalendarDay(day=day, is_workday=is_workday, note=note)
        session.add(row)
    else:
        row.is_workday, row.note = is_workday, note
    await session.flush()
    after = audit.snapshot(row, CALENDAR_AUDIT_FIELDS)
    await audit.record(session, principal, "calendar.day_set", "calendar_day", day, before=before, after=after)
    _after_change(session)
    return row


async def delete_day(session: AsyncSession, principal: Principal, day: date) -> None:
    require_city_admin(principal)
    row = await session.get(CalendarDay, day)
    if row is None:
        raise CalendarDayNotFound(f"No calendar entry for {day}")
    before = audit.snapshot(row, CALENDAR_AUDIT_FIELDS)
    await session.delete(row)
    await session.flush()
    await audit.record(session, principal, "calendar.day_deleted", "calendar_day", day, before=before)
    _after_change(session)


def deadline_rules_changed(session: AsyncSession) -> None:
    """The office hours or the warning share changed (rule settings): recompute the deadlines still ahead."""
    _after_change(session)


def _after_change(session: AsyncSession) -> None:
    sla.invalidate()
    enqueue_after_commit(
        session, RECOMPUTE_TASK, job_id=f"{RECOMPUTE_TASK}:{datetime.now(UTC).isoformat()}", queue=LONG_QUEUE
    )

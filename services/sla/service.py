"""Loading SLA policies and the admin's calendar overrides (cached briefly per process)."""

import time
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import CalendarDay, SlaPolicy
from services.sla.calendar import WorkCalendar
from services.sla.policy import PolicyTerms

CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, object]] = {}


def invalidate() -> None:
    """Forget cached policies and calendar (this process; others refresh within CACHE_SECONDS)."""
    _cache.clear()


async def policies(session: AsyncSession) -> list[PolicyTerms]:
    cached = _cache.get("policies")
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]  # type: ignore[return-value]
    rows = await session.scalars(select(SlaPolicy))
    terms = [
        PolicyTerms(
            p.id, p.category_prefix, p.priority, p.respond_amount, p.respond_unit, p.resolve_amount, p.resolve_unit
        )
        for p in rows
    ]
    _cache["policies"] = (time.monotonic(), terms)
    return terms


async def calendar(session: AsyncSession) -> WorkCalendar:
    cached = _cache.get("calendar")
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]  # type: ignore[return-value]
    overrides: dict[date, bool] = {row.day: row.is_workday for row in await session.scalars(select(CalendarDay))}
    result = WorkCalendar(overrides)
    _cache["calendar"] = (time.monotonic(), result)
    return result

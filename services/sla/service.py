"""Loading SLA policies and the admin's calendar overrides (cached briefly per process)."""

import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.config import service as config
from services.config.schemas import SlaRules, parse_clock
from services.models import CalendarDay, SlaPolicy
from services.sla.calendar import OfficeHours, WorkCalendar
from services.sla.policy import PolicyTerms

CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, object]] = {}


def invalidate() -> None:
    """Forget cached policies, calendar and the rule settings they follow (this process; others refresh
    within CACHE_SECONDS, the rule settings within config.CACHE_SECONDS)."""
    _cache.clear()
    config.invalidate()


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


def office_hours_of(rules: SlaRules) -> OfficeHours:
    """The rule settings' office periods (`[["08:30", "12:00"], …]`) as the calendar's OfficeHours."""
    return OfficeHours(tuple((parse_clock(start), parse_clock(end)) for start, end in rules.office_hours))


async def calendar(session: AsyncSession) -> WorkCalendar:
    """The working calendar in force: the admin's holiday table (cached for CACHE_SECONDS), and the office
    hours and warning share of the rule settings (the cache follows their version, so a change of the
    settings applies to the next deadline computed)."""
    settings = await config.snapshot(session)
    cached = _cache.get("calendar")
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        built = cached[1]
        if isinstance(built, _VersionedCalendar) and built.settings_version == settings.version:
            return built.calendar
    overrides: dict[date, bool] = {row.day: row.is_workday for row in await session.scalars(select(CalendarDay))}
    rules = settings.rules.sla
    result = WorkCalendar(overrides, office_hours_of(rules), warning_share=rules.warning_share)
    _cache["calendar"] = (time.monotonic(), _VersionedCalendar(settings.version, result))
    return result


@dataclass(frozen=True, slots=True)
class _VersionedCalendar:
    settings_version: int
    calendar: WorkCalendar

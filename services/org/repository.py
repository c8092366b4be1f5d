"""Every query of the organisation domain."""

import time
from collections.abc import Sequence

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Category, Department, Member, OrgUnit, ResponsibilityRule, SlaPolicy, StaffAccount, Team


async def unit_by_code(session: AsyncSession, code: str) -> OrgUnit | None:
    result: OrgUnit | None = await session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    return result


async def units_by_ids(session: AsyncSession, ids: set[int]) -> dict[int, OrgUnit]:
    if not ids:
        return {}
    rows = await session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))
    return {u.id: u for u in rows}


async def units_by_codes(session: AsyncSession, codes: Sequence[str]) -> dict[str, OrgUnit]:
    if not codes:
        return {}
    rows = await session.scalars(select(OrgUnit).where(OrgUnit.code.in_(codes)))
    return {u.code: u for u in rows}


async def codes_of_units(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(OrgUnit.id, OrgUnit.code).where(OrgUnit.id.in_(ids)))
    return {row.id: row.code for row in rows}


async def paths_of_units(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(ids)))
    return {row.id: row.path for row in rows}


def list_units_query(
    scope_path: str, level: str | None, parent_id: int | None, q: str | None, after_id: int | None, limit: int
) -> Select[OrgUnit]:
    stmt = select(OrgUnit).where(OrgUnit.path.startswith(scope_path, autoescape=True))
    if level:
        stmt = stmt.where(OrgUnit.level == level)
    if parent_id is not None:
        stmt = stmt.where(OrgUnit.parent_id == parent_id)
    if q:
        stmt = stmt.where(
            or_(
                OrgUnit.name.icontains(q, autoescape=True),
                OrgUnit.name_en.icontains(q, autoescape=True),
                OrgUnit.code.icontains(q, autoescape=True),
            )
        )
    if after_id is not None:
        stmt = stmt.where(OrgUnit.id > after_id)
    return stmt.order_by(OrgUnit.id).limit(limit)


async def unit_is_referenced(session: AsyncSession, unit_id: int) -> bool:
    checks = [
        select(OrgUnit.id).where(OrgUnit.parent_id == unit_id),
        select(Department.id).where(Department.scope_unit_id == unit_id),
        select(Team.id).where(Team.grid_unit_id == unit_id),
        select(ResponsibilityRule.id).where(ResponsibilityRule.org_unit_id == unit_id),
        select(StaffAccount.id).where(StaffAccount.scope_unit_id == unit_id),
    ]
    for stmt in checks:
        if await session.scalar(stmt.limit(1)) is not None:
            return True
    return False


async def department_by_code(session: AsyncSession, code: str) -> Department | None:
    result: Department | None = await session.scalar(select(Department).where(Department.code == code))
    return result


async def departments_by_codes(session: AsyncSession, codes: Sequence[str]) -> dict[str, Department]:
    if not codes:
        return {}
    rows = await session.scalars(select(Department).where(Department.code.in_(codes)))
    return {d.code: d for d in rows}


async def department_codes(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Department.id, Department.code).where(Department.id.in_(ids)))
    return {row.id: row.code for row in rows}


async def team_by_id(session: AsyncSession, team_id: int) -> Team | None:
    return await session.get(Team, team_id)


async def team_members(session: AsyncSession, team_ids: Sequence[int]) -> list[tuple[Member, StaffAccount]]:
    if not team_ids:
        return []
    rows = await session.execute(
        select(Member, StaffAccount)
        .join(StaffAccount, StaffAccount.id == Member.staff_id)
        .where(Member.team_id.in_(team_ids))
        .order_by(Member.id)
    )
    return [(m, s) for m, s in rows]


async def department_members(session: AsyncSession, department_id: int) -> list[tuple[Member, StaffAccount]]:
    rows = await session.execute(
        select(Member, StaffAccount)
        .join(StaffAccount, StaffAccount.id == Member.staff_id)
        .where(Member.department_id == department_id)
        .order_by(Member.id)
    )
    return [(m, s) for m, s in rows]


async def member_with_staff(session: AsyncSession, member_id: int) -> tuple[Member, StaffAccount] | None:
    row = (
        await session.execute(
            select(Member, StaffAccount)
            .join(StaffAccount, StaffAccount.id == Member.staff_id)
            .where(Member.id == member_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def category_by_code(session: AsyncSession, code: str) -> Category | None:
    result: Category | None = await session.scalar(select(Category).where(Category.code == code))
    return result


async def count_categories_with_prefix(session: AsyncSession, prefix: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Category)
            .where(or_(Category.code == prefix, Category.code.startswith(prefix + ".", autoescape=True)))
        )
        or 0
    )


async def rule_by_id(session: AsyncSession, rule_id: int) -> ResponsibilityRule | None:
    return await session.get(ResponsibilityRule, rule_id)


async def sla_policy_by_id(session: AsyncSession, policy_id: int) -> SlaPolicy | None:
    return await session.get(SlaPolicy, policy_id)


async def is_empty(session: AsyncSession) -> bool:
    return await session.scalar(select(OrgUnit.id).limit(1)) is None


EXTENT_CACHE_SECONDS = 60.0
_extent_cache: tuple[float, tuple[float, float, float, float] | None] | None = None


async def city_extent(session: AsyncSession) -> tuple[float, float, float, float] | None:
    """(min_lon, min_lat, max_lon, max_lat) of all grids, or None when there are none."""
    global _extent_cache
    if _extent_cache and time.monotonic() - _extent_cache[0] < EXTENT_CACHE_SECONDS:
        return _extent_cache[1]
    row = (
        await session.execute(
            select(
                func.min(OrgUnit.min_lon),
                func.min(OrgUnit.min_lat),
                func.max(OrgUnit.max_lon),
                func.max(OrgUnit.max_lat),
            ).where(OrgUnit.level == "grid")
        )
    ).one()
    min_lon, min_lat, max_lon, max_lat = row
    extent = None
    if min_lon is not None and min_lat is not None and max_lon is not None and max_lat is not None:
        extent = (min_lon, min_lat, max_lon, max_lat)
    _extent_cache = (time.monotonic(), extent)
    return extent


ROOT_CACHE_SECONDS = 60.0
_root_cache: tuple[float, str] | None = None


async def root_path(session: AsyncSession) -> str:
    """The city's path (`/3302/`): where a request sits until it is located."""
    global _root_cache
    if _root_cache is not None and time.monotonic() - _root_cache[0] < ROOT_CACHE_SECONDS:
        return _root_cache[1]
    path = await session.scalar(select(OrgUnit.path).where(OrgUnit.parent_id.is_(None)).limit(1))
    if path is None:
        return "/"
    _root_cache = (time.monotonic(), path)
    return path


CATEGORY_CACHE_SECONDS = 30.0
_category_cache: dict[str, tuple[float, Category | None]] = {}


async def cached_category(session: AsyncSession, code: str) -> Category | None:
    """A category read at most every CATEGORY_CACHE_SECONDS per process (intake reads one per request).

    The object is detached from the session: read its fields, do not change it.
    """
    hit = _category_cache.get(code)
    if hit is not None and time.monotonic() - hit[0] < CATEGORY_CACHE_SECONDS:
        return hit[1]
    category = await category_by_code(session, code)
    if category is not None:
        session.expunge(category)
    if len(_category_cache) > 1000:
        _category_cache.clear()
    _category_cache[code] = (time.monotonic(), category)
    return category


def forget_cached() -> None:
    """Drop this process's caches of org data (after an edit here; other processes expire theirs)."""
    global _root_cache, _extent_cache
    _root_cache = None
    _extent_cache = None
    _category_cache.clear()

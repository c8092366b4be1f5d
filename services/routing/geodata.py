"""What routing keeps in memory: the grid index, unit names and paths, the matrix rules, and which
categories are key-group ones.

Rebuilt when the grid map, the rules or the categories change: a cheap stamp query (counts and last
update times) runs at most every CHECK_SECONDS, so an edit reaches every worker within seconds.
"""

import asyncio
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Category, OrgUnit, ResponsibilityRule
from services.routing.grid_index import GridIndex, GridRecord
from services.routing.locate import NamedUnit
from services.routing.matrix import Rule

CHECK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class GeoData:
    stamp: tuple[object, ...]
    index: GridIndex
    units: dict[int, NamedUnit]
    named: list[NamedUnit]
    rules: list[Rule]
    root_path: str
    unit_ids: dict[str, int]  # by unit code
    key_groups: frozenset[str]  # codes of the key-group categories (重点人群)


_current: GeoData | None = None
_checked_at = 0.0
# One check (and one rebuild) at a time: twenty concurrent route jobs finding the data stale would
# otherwise each run the stamp query and each build the index. A lock per event loop (tests run many).
_locks: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]" = weakref.WeakKeyDictionary()


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


def forget() -> None:
    global _current
    _current = None


async def _stamp(session: AsyncSession) -> tuple[object, ...]:
    # One round trip for the three tables.
    columns = [
        subquery
        for table in (OrgUnit, ResponsibilityRule, Category)
        for subquery in (
            select(func.count()).select_from(table).scalar_subquery(),
            select(func.max(table.updated_at)).scalar_subquery(),
        )
    ]
    return tuple((await session.execute(select(*columns))).one())


def _fresh() -> GeoData | None:
    if _current is not None and time.monotonic() - _checked_at < CHECK_SECONDS:
        return _current
    return None


async def geodata(session: AsyncSession) -> GeoData:
    global _current, _checked_at
    current = _fresh()
    if current is not None:
        return current
    async with _lock():
        current = _fresh()  # another job checked while this one waited
        if current is not None:
            return current
        stamp = await _stamp(session)
        if _current is None or _current.stamp != stamp:
            _current = await _build(session, stamp)
        _checked_at = time.monotonic()
        return _current


async def _build(session: AsyncSession, stamp: tuple[object, ...]) -> GeoData:
    rows = (await session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.path, OrgUnit.level))).all()
    units = {r.id: NamedUnit(r.id, r.name, r.path, r.level) for r in rows}
    key_groups = frozenset(await session.scalars(select(Category.code).where(Category.key_group.is_(True))))
    grids = (
        await session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.geometry).where(OrgUnit.level == "grid"))
    ).all()
    index = GridIndex([GridRecord(g.id, g.code, g.geometry) for g in grids if g.geometry])
    rule_rows = (
        await session.execute(
            select(ResponsibilityRule, OrgUnit.path).join(OrgUnit, OrgUnit.id == ResponsibilityRule.org_unit_id)
        )
    ).all()
    rules = [
        Rule(
            id=r.id,
            category_prefix=r.category_prefix,
            unit_path=path,
            handler_kind=r.handler_kind,
            lead_department_id=r.lead_department_id,
            co_department_ids=tuple(r.co_department_ids),
        )
        for r, path in rule_rows
    ]
    roots = [u.path for u in units.values() if u.level == "city"]
    return GeoData(
        stamp,
        index,
        units,
        list(units.values()),
        rules,
        roots[0] if roots else "/",
        {r.code: r.id for r in rows},
        key_groups,
    )


def district_path(path: str) -> str:
    """The district part of a path (`/3302/330203/…` → `/3302/330203/`), or the path if shallower."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:2]) + "/" if len(parts) >= 2 else path

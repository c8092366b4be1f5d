"""What routing keeps in memory: the grid index, unit names and paths, and the matrix rules.

Rebuilt when the grid map or the rules change: a cheap stamp query (counts and last update
times) runs at most every CHECK_SECONDS, so an edit reaches every worker within seconds.
"""

import asyncio
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.org.models import OrgUnit, ResponsibilityRule
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
    units = (await session.execute(select(func.count(), func.max(OrgUnit.updated_at)).select_from(OrgUnit))).one()
    rules = (
        await session.execute(
            select(func.count(), func.max(ResponsibilityRule.updated_at)).select_from(ResponsibilityRule)
        )
    ).one()
    return (units[0], units[1], rules[0], rules[1])


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
    return GeoData(stamp, index, units, list(units.values()), rules, roots[0] if roots else "/")


def district_path(path: str) -> str:
    """The district part of a path (`/3302/330203/…` → `/3302/330203/`), or the path if shallower."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:2]) + "/" if len(parts) >= 2 else path

"""The org units' boundaries as GeoJSON, for maps (the console's dispatch board, dashboard and public page).

Only grids store polygons; a community, street, district or the city is the union of its grids, computed
here with shapely and cached per process until the grid map changes (a cheap fingerprint query: the number
of grids, their newest `updated_at` and the sum of their versions). Boundaries and names only: no people.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import OrgUnit
from services.models.org import LEVELS
from services.org.errors import OrgUnitNotFound

# Simplification tolerance in degrees (≈ 20 m): a map at city or district zoom does not need every vertex.
SIMPLIFY_DEGREES = 0.0002
CACHE_ENTRIES = 64
CACHE_SECONDS = 300.0
PRECISION = 6


@dataclass(frozen=True, slots=True)
class _Entry:
    fingerprint: tuple[int, datetime | None, int]
    made_at: float
    collection: dict[str, Any]


_cache: dict[tuple[str, str | None], _Entry] = {}


def _depth(level: str) -> int:
    """How many path segments a unit of `level` has (`/3302/` is 1, a grid 5)."""
    return LEVELS.index(level) + 1


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, PRECISION)
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    return value


async def _fingerprint(session: AsyncSession) -> tuple[int, datetime | None, int]:
    row = (
        await session.execute(
            select(func.count(), func.max(OrgUnit.updated_at), func.coalesce(func.sum(OrgUnit.version), 0)).where(
                OrgUnit.level == "grid"
            )
        )
    ).one()
    return int(row[0]), row[1], int(row[2])


async def unit_features(session: AsyncSession, *, level: str, parent_code: str | None = None) -> dict[str, Any]:
    """A FeatureCollection of the units of `level` (under `parent_code` when given), each with its code,
    name, English name, level, parent code and polygon (the union of its grids). Units without grids are
    left out. `404` for an unknown `parent_code` or one not above `level`."""
    parent_path = "/"
    if parent_code is not None:
        parent = await session.scalar(select(OrgUnit).where(OrgUnit.code == parent_code))
        if parent is None or _depth(parent.level) >= _depth(level):
            raise OrgUnitNotFound(f"No org unit {parent_code!r} above the {level} level")
        parent_path = parent.path
    fingerprint = await _fingerprint(session)
    key = (level, parent_code)
    hit = _cache.get(key)
    if hit is not None and hit.fingerprint == fingerprint and time.monotonic() - hit.made_at < CACHE_SECONDS:
        return hit.collection
    collection = await _build(session, level, parent_path)
    if len(_cache) >= CACHE_ENTRIES:
        _cache.clear()
    _cache[key] = _Entry(fingerprint, time.monotonic(), collection)
    return collection


async def _build(session: AsyncSession, level: str, parent_path: str) -> dict[str, Any]:
    depth = _depth(level)
    units = (
        await session.execute(
            select(OrgUnit.code, OrgUnit.name, OrgUnit.name_en, OrgUnit.path, OrgUnit.parent_id)
            .where(OrgUnit.level == level, OrgUnit.path.startswith(parent_path, autoescape=True))
            .order_by(OrgUnit.code)
        )
    ).all()
    parents: dict[int, str] = {}
    if units:
        parents = {id_: code for id_, code in await session.execute(select(OrgUnit.id, OrgUnit.code))}
    grids = (
        await session.execute(
            select(OrgUnit.path, OrgUnit.geometry).where(
                OrgUnit.level == "grid", OrgUnit.path.startswith(parent_path, autoescape=True)
            )
        )
    ).all()
    shapes: dict[str, list[Any]] = {}
    for path, geometry in grids:
        if geometry is None:
            continue
        ancestor = "/" + "/".join(path.strip("/").split("/")[:depth]) + "/"
        shapes.setdefault(ancestor, []).append(shape(geometry))
    features: list[dict[str, Any]] = []
    for code, name, name_en, path, parent_id in units:
        parts = shapes.get(path)
        if not parts:
            continue
        merged = parts[0] if level == "grid" else shapely.unary_union(parts)
        if level != "grid":
            merged = merged.simplify(SIMPLIFY_DEGREES, preserve_topology=True)
        geometry = mapping(merged)
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": {
                    "code": code,
                    "name": name,
                    "name_en": name_en,
                    "level": level,
                    "parent_code": parents.get(parent_id) if parent_id is not None else None,
                },
                "geometry": {"type": geometry["type"], "coordinates": _round(geometry["coordinates"])},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def forget() -> None:
    """Drop the cached collections (tests)."""
    _cache.clear()

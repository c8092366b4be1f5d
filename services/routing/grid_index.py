"""Point-in-polygon over the grid map, with an in-memory spatial index (shapely STRtree)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import shape


@dataclass(frozen=True, slots=True)
class GridRecord:
    id: int
    code: str
    geometry: dict[str, Any]


class GridIndex:
    """Finds the grid containing a point; a point on a shared edge goes to the lowest grid code."""

    def __init__(self, grids: Sequence[GridRecord]) -> None:
        # Sorted by code so that, among several matches, the first index is the lowest code.
        ordered = sorted(grids, key=lambda g: g.code)
        self._ids = [g.id for g in ordered]
        self._codes = [g.code for g in ordered]
        geometries = [shape(g.geometry) for g in ordered]
        for geometry in geometries:
            shapely.prepare(geometry)
        self._tree = STRtree(geometries)

    def __len__(self) -> int:
        return len(self._ids)

    def locate(self, lon: float, lat: float) -> tuple[int, str] | None:
        """(grid id, grid code) of the grid covering the point (boundary included), or None."""
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        first = int(np.min(hits))
        return self._ids[first], self._codes[first]

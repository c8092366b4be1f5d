"""Geometry checks for grid polygons (shapely), free of I/O."""

from dataclasses import dataclass
from typing import Any

from shapely.geometry import shape
from shapely.validation import explain_validity


@dataclass(frozen=True, slots=True)
class CheckedGeometry:
    geojson: dict[str, Any]
    bounds: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


def check_polygon(geojson: dict[str, Any]) -> CheckedGeometry:
    """Return the geometry with its bounds, or raise ValueError saying what is wrong with it."""
    try:
        geom = shape(geojson)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"not a readable GeoJSON polygon: {exc}") from exc
    if geom.is_empty:
        raise ValueError("the polygon is empty")
    if not geom.is_valid:
        raise ValueError(f"invalid polygon: {explain_validity(geom)}")
    if geom.area <= 0:
        raise ValueError("the polygon has no area")
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    return CheckedGeometry(geojson=geojson, bounds=(min_lon, min_lat, max_lon, max_lat))

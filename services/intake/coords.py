"""Coordinates from Chinese map apps (GCJ-02, BD-09) converted to WGS84 on intake."""

import prcoords


def to_wgs84(lat: float, lon: float, system: str) -> tuple[float, float]:
    """(lat, lon) in WGS84. GCJ-02 and BD-09 are inverted iteratively (accurate to centimetres)."""
    if system == "wgs84":
        return lat, lon
    if system == "gcj02":
        result = prcoords.gcj_wgs_bored((lat, lon))
    elif system == "bd09":
        result = prcoords.bd_wgs_bored((lat, lon))
    else:
        raise ValueError(f"unknown coordinate system {system!r}")
    return float(result.lat), float(result.lon)

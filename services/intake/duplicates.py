"""The duplicate rules (SPEC §3), as pure functions.

An open request is a duplicate of an earlier one when either
* same category, within 50 m great-circle distance (or, without coordinates, the same org
  unit), received within 72 h; or
* same phone, near-identical text (character-trigram Jaccard ≥ 0.9), within 24 h.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

EARTH_RADIUS_M = 6_371_008.8
NEARBY_METRES = 50.0
NEARBY_WINDOW = timedelta(hours=72)
SAME_PHONE_WINDOW = timedelta(hours=24)
TEXT_SIMILARITY = 0.9


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the rules look at, for the new request and for each earlier candidate."""

    received_at: datetime
    category: str
    lat: float | None
    lon: float | None
    org_unit_id: int | None
    phone_hash: str | None
    description: str


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def trigrams(text: str) -> set[str]:
    """Character trigrams of the text with white space folded (Chinese text has no word breaks)."""
    folded = " ".join(text.split()).lower()
    if len(folded) < 3:
        return {folded} if folded else set()
    return {folded[i : i + 3] for i in range(len(folded) - 2)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def same_place(new: RequestFacts, earlier: RequestFacts) -> bool:
    if new.lat is not None and new.lon is not None and earlier.lat is not None and earlier.lon is not None:
        return haversine_m(new.lat, new.lon, earlier.lat, earlier.lon) <= NEARBY_METRES
    if new.lat is None and earlier.lat is None:
        return new.org_unit_id is not None and new.org_unit_id == earlier.org_unit_id
    return False


def is_duplicate(new: RequestFacts, earlier: RequestFacts) -> bool:
    """Whether `new` duplicates the open request `earlier` (received before it)."""
    age = new.received_at - earlier.received_at
    if age < timedelta(0):
        return False
    if new.category == earlier.category and age <= NEARBY_WINDOW and same_place(new, earlier):
        return True
    return (
        new.phone_hash is not None
        and new.phone_hash == earlier.phone_hash
        and age <= SAME_PHONE_WINDOW
        and jaccard(trigrams(new.description), trigrams(earlier.description)) >= TEXT_SIMILARITY
    )


def first_duplicate(new: RequestFacts, candidates: list[tuple[int, RequestFacts]]) -> int | None:
    """The id of the earliest open request that `new` duplicates, if any."""
    matches = [(facts.received_at, rid) for rid, facts in candidates if is_duplicate(new, facts)]
    return min(matches)[1] if matches else None


def bounding_box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    """A lat/lon box surely containing every point within `metres` (for an indexed prefilter)."""
    dlat = math.degrees(metres / EARTH_RADIUS_M) * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon

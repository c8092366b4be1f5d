"""The duplicate rules (SPEC §3), as pure functions.

An open request is a duplicate of an earlier one when either
* same category, within 50 m great-circle distance, received within 72 h; or
* same category, neither located by coordinates, the same org unit, received within 72 h, and
  similar text (character-trigram Jaccard ≥ 0.5, `same_unit_similarity`): a unit (a grid, a
  community) is far bigger than 50 m, so the place alone merged different matters (two noise
  complaints in one grid); or
* same phone, near-identical text (character-trigram Jaccard ≥ 0.9), within 24 h.

The SQL prefilter (`repository.new_request_id_and_candidates`) fetches at most 200 candidates by
category, place and time or by phone and time; texts are compared here, in Python, on those only,
and only for candidates the other conditions left.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.config.schemas import DuplicateRules

EARTH_RADIUS_M = 6_371_008.8
NEARBY_METRES = 50.0
NEARBY_WINDOW = timedelta(hours=72)
SAME_PHONE_WINDOW = timedelta(hours=24)
TEXT_SIMILARITY = 0.9
# The numbers above are the defaults; the rule settings (`duplicates.*`, services/config) hold the ones in force.
DEFAULT_RULES = DuplicateRules()


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


def near(new: RequestFacts, earlier: RequestFacts, metres: float = NEARBY_METRES) -> bool:
    """Both located by coordinates, within `metres`."""
    if new.lat is not None and new.lon is not None and earlier.lat is not None and earlier.lon is not None:
        return haversine_m(new.lat, new.lon, earlier.lat, earlier.lon) <= metres
    return False


def same_unit(new: RequestFacts, earlier: RequestFacts) -> bool:
    """Neither located by coordinates, both at the same org unit."""
    if new.lat is None and earlier.lat is None:
        return new.org_unit_id is not None and new.org_unit_id == earlier.org_unit_id
    return False


def same_place(new: RequestFacts, earlier: RequestFacts, metres: float = NEARBY_METRES) -> bool:
    """Within `metres`, or (neither with coordinates) at the same org unit."""
    return near(new, earlier, metres) or same_unit(new, earlier)


def is_duplicate(
    new: RequestFacts,
    earlier: RequestFacts,
    rules: DuplicateRules = DEFAULT_RULES,
    *,
    new_trigrams: set[str] | None = None,
) -> bool:
    """Whether `new` duplicates the open request `earlier` (received before it), by `rules`' thresholds.
    `new_trigrams`: the trigrams of `new.description`, when the caller compares it with many candidates."""
    age = new.received_at - earlier.received_at
    if age < timedelta(0):
        return False
    in_window = new.category == earlier.category and age <= timedelta(hours=rules.nearby_window_hours)
    if in_window and near(new, earlier, rules.nearby_metres):
        return True
    by_unit = in_window and same_unit(new, earlier)
    same_phone = (
        new.phone_hash is not None
        and new.phone_hash == earlier.phone_hash
        and age <= timedelta(hours=rules.same_phone_window_hours)
    )
    if not (by_unit or same_phone):
        return False
    # The texts last (the costly part), for the few candidates the other conditions left.
    own = trigrams(new.description) if new_trigrams is None else new_trigrams
    similarity = jaccard(own, trigrams(earlier.description))
    return (by_unit and similarity >= rules.same_unit_similarity) or (
        same_phone and similarity >= rules.same_phone_similarity
    )


def first_duplicate(
    new: RequestFacts, candidates: list[tuple[int, RequestFacts]], rules: DuplicateRules = DEFAULT_RULES
) -> int | None:
    """The id of the earliest open request that `new` duplicates, if any."""
    own = trigrams(new.description)
    matches = [
        (facts.received_at, rid) for rid, facts in candidates if is_duplicate(new, facts, rules, new_trigrams=own)
    ]
    return min(matches)[1] if matches else None


def bounding_box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    """A lat/lon box surely containing every point within `metres` (for an indexed prefilter)."""
    dlat = math.degrees(metres / EARTH_RADIUS_M) * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon

"""How a result's figures are stored, compactly, and expanded into the API's shapes when read.

A run stores a few thousand results; written out as the API's nested objects they weighed ~3 KB each
(11 MB a month), most of it repeated keys. Stored, a rate is a list of eight numbers and counts are lists
of integers in a fixed order; what every result shares (the scheme's weights) is not repeated. Values are
stored exactly as computed (JSON numbers round-trip floats exactly), so expanding loses nothing.
"""

from collections.abc import Sequence
from typing import Any

from services.scoring.schemas import RATE_NAMES
from services.scoring.scheme import SchemeDocument
from services.scoring.tally import FIELDS

RATE_PARTS = ("value", "successes", "n", "low", "high", "shrunk", "expected", "adjusted")
Figures = dict[str, Any]


def pack_rate(
    value: float | None,
    successes: float,
    n: int,
    interval: tuple[float, float] | None,
    shrunk: float | None,
    expected: float | None,
    adjusted: float | None,
) -> list[Any]:
    low, high = interval if interval is not None else (None, None)
    return [value, successes, n, low, high, shrunk, expected, adjusted]


def unpack_rate(packed: Sequence[Any]) -> Figures:
    value, successes, n, low, high, shrunk, expected, adjusted = packed
    return {
        "value": value,
        "successes": successes,
        "n": n,
        "interval": {"low": low, "high": high} if low is not None else None,
        "shrunk": shrunk,
        "expected": expected,
        "adjusted": adjusted,
    }


def unpack_rates(packed: dict[str, Sequence[Any]] | None) -> Figures | None:
    if packed is None:
        return None
    return {rate: unpack_rate(packed[rate]) for rate in RATE_NAMES}


def unpack_counts(packed: Sequence[int]) -> dict[str, int]:
    return dict(zip(FIELDS, packed, strict=True))


def unit(stored: Figures, scheme: SchemeDocument) -> Figures:
    """A stored unit or department result in the shape of `schemas.UnitFigures` (breakdown left stored)."""
    three = stored["three_rate_score"]
    index = stored["satisfaction_index"]
    return {
        **stored,
        "three_rate_score": {**three, "weights": scheme.three_rate_weights.model_dump()},
        "satisfaction_index": {**index, "weights": scheme.satisfaction_index_weights.model_dump()},
        "rates": unpack_rates(stored["rates"]),
        "counts": unpack_counts(stored["counts"]),
    }


def sources(stored: Figures) -> list[Figures]:
    return [
        {"kind": kind, "code": code, "name": name, "counts": unpack_counts(counts)}
        for kind, code, name, counts in stored["breakdown"]["sources"]
    ]


def cadre(stored: Figures) -> Figures:
    """A stored cadre result in the shape of `schemas.CadreFigures`."""
    return {**stored, "quality": unpack_rates(stored["quality"])}


def rate_value(stored: Figures, rate: str, part: str) -> Any:
    """One part (`value`, `n`, `shrunk`, …) of one rate of a stored result (units: rates; cadres: quality)."""
    rates = stored.get("rates") or stored.get("quality")
    if not rates:
        return None
    return rates[rate][RATE_PARTS.index(part)]

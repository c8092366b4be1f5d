"""How a result's figures are stored, compactly, and expanded into the API's shapes when read.

A run stores a few thousand results; written out as the API's nested objects they weighed ~3 KB each
(11 MB a month), most of it repeated keys. Stored, a rate is a list of eight numbers and counts are lists
of integers in a fixed order; what every result shares (the scheme's weights) is not repeated. Values are
stored exactly as computed (JSON numbers round-trip floats exactly), so expanding loses nothing.

`unit` and `cadre` expand exactly (what `verify` and the tests compare); `unit_answer` and `cadre_answer` are
the same rounded as the scheme says (`SchemeDocument.rounding`) for answers and CSV, never for storage.
A value a subject has no data for is null with its reason (SPEC §12: the prior never stands in for it).
"""

from collections.abc import Sequence
from typing import Any

from services.scoring.schemas import RATE_NAMES
from services.scoring.scheme import Rounding, SchemeDocument
from services.scoring.tally import FIELDS, has_data

RATE_PARTS = ("value", "successes", "n", "low", "high", "shrunk", "expected", "adjusted")
Figures = dict[str, Any]
THREE_RATE_PARTS = {"response": "response_rate", "resolution": "resolution_rate", "satisfaction": "satisfaction_rate"}
# Why a rate has no value: its denominator is 0.
NO_DATA = {
    "response_rate": "no data (n = 0): no request was accepted or passed its response deadline",
    "resolution_rate": "no data (n = 0): no request was evaluated",
    "satisfaction_rate": "no data (n = 0): no request was evaluated",
    "on_time_resolution_rate": "no data (n = 0): no request was resolved or passed its resolution deadline",
    "reopen_rate": "no data (n = 0): no request had a first evaluation",
    "return_rate": "no data (n = 0): nothing was dispatched",
    "no_evaluation_share": "no data (n = 0): no request was evaluated or closed as no evaluation",
}
NO_ASSESSMENT = "no data: no assessment recorded for this subject and period"
UNIT_UNRANKED = "no data (n = 0): no request with a response deadline or an evaluation in the period"
CADRE_UNRANKED = {
    "handler": "nothing to rank: no request with a response, on-time or three-rate figure (n = 0) and no visit quota",
    "leader": "nothing to rank: no link with a quota and no linked unit with a score",
}


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


def _rate_reason(rate: str, unpacked: Figures) -> Figures:
    return {**unpacked, "reason": NO_DATA[rate] if not unpacked["n"] else None}


def unpack_rates(packed: dict[str, Sequence[Any]] | None) -> Figures | None:
    if packed is None:
        return None
    return {rate: _rate_reason(rate, unpack_rate(packed[rate])) for rate in RATE_NAMES}


def unpack_counts(packed: Sequence[int]) -> dict[str, int]:
    return dict(zip(FIELDS, packed, strict=True))


def unit(stored: Figures, scheme: SchemeDocument) -> Figures:
    """A stored unit or department result in the shape of `schemas.UnitFigures` (breakdown left stored)."""
    three = stored["three_rate_score"]
    index = stored["satisfaction_index"]
    rates = unpack_rates(stored["rates"])
    assert rates is not None
    three_reasons = {part: NO_DATA[THREE_RATE_PARTS[part]] for part in three["missing_components"]}
    index_reasons = {
        part: NO_DATA["satisfaction_rate"] if part == "residents" else NO_ASSESSMENT
        for part in index["missing_components"]
    }
    return {
        **stored,
        "unranked_reason": UNIT_UNRANKED if stored["rank"] is None and not has_data(stored["counts"]) else None,
        "three_rate_score": {
            **three,
            "weights": scheme.three_rate_weights.model_dump(),
            "missing_reasons": three_reasons,
        },
        "satisfaction_index": {
            **index,
            "weights": scheme.satisfaction_index_weights.model_dump(),
            "missing_reasons": index_reasons,
        },
        "rates": rates,
        "counts": unpack_counts(stored["counts"]),
    }


def _round_rate(rate: Figures, r: Rounding) -> Figures:
    interval = rate["interval"]
    return {
        **rate,
        "value": r.rate(rate["value"]),
        "interval": {"low": r.rate(interval["low"]), "high": r.rate(interval["high"])} if interval else None,
        "shrunk": r.rate(rate["shrunk"]),
        "expected": r.rate(rate["expected"]),
        "adjusted": r.rate(rate["adjusted"]),
    }


def _round_rates(rates: Figures | None, r: Rounding) -> Figures | None:
    return None if rates is None else {name: _round_rate(rate, r) for name, rate in rates.items()}


def unit_answer(stored: Figures, scheme: SchemeDocument) -> Figures:
    """`unit`, with rates and scores rounded as the scheme says: what answers and CSV show."""
    r = scheme.rounding
    out = unit(stored, scheme)
    three = out["three_rate_score"]
    index = out["satisfaction_index"]
    return {
        **out,
        "three_rate_score": {**three, "value": r.score(three["value"]), "raw": r.score(three["raw"])},
        "satisfaction_index": {
            **index,
            "value": r.score(index["value"]),
            "components": {name: r.score(value) for name, value in index["components"].items()},
        },
        "rates": _round_rates(out["rates"], r),
    }


def sources(stored: Figures) -> list[Figures]:
    return [
        {"kind": kind, "code": code, "name": name, "counts": unpack_counts(counts)}
        for kind, code, name, counts in stored["breakdown"]["sources"]
    ]


def cadre(stored: Figures) -> Figures:
    """A stored cadre result in the shape of `schemas.CadreFigures`."""
    unranked = CADRE_UNRANKED[stored["kind"]] if stored["rank"] is None and stored["cadre_score"] is None else None
    return {**stored, "unranked_reason": unranked, "quality": unpack_rates(stored["quality"])}


def cadre_answer(stored: Figures, scheme: SchemeDocument) -> Figures:
    """`cadre`, with rates and scores rounded as the scheme says."""
    r = scheme.rounding
    out = cadre(stored)
    process, result, contacts = out["process"], out["result"], out["contacts"]
    return {
        **out,
        "cadre_score": r.score(out["cadre_score"]),
        # Process components are rates (0–1); result components are 100-point scores.
        "process": {
            **process,
            "score": r.score(process["score"]),
            "components": {name: r.rate(value) for name, value in process["components"].items()},
        },
        "result": {
            **result,
            "score": r.score(result["score"]),
            "components": {name: r.score(value) for name, value in result["components"].items()},
        },
        "quality": _round_rates(out["quality"], r),
        "contacts": None
        if contacts is None
        else {
            **contacts,
            "contact_compliance": r.rate(contacts["contact_compliance"]),
            "coverage": r.rate(contacts["coverage"]),
            "links": [{**link, "compliance": r.rate(link["compliance"])} for link in contacts["links"]],
        },
    }


def shrinkage(stored: Figures, priors: dict[str, Any]) -> dict[str, Figures]:
    """Per rate, how much of the shrunk value is the unit's data and how much the level's prior (exact):
    shrunk = data_weight × raw + prior_weight × prior mean, data_weight = n / (n + α + β)."""
    rates = stored.get("rates") or stored.get("quality") or {}
    out: dict[str, Figures] = {}
    for rate in RATE_NAMES:
        if rate not in rates:
            continue
        value, _, n, _, _, shrunk, _, _ = rates[rate]
        prior = priors.get(rate)
        strength = prior["strength"] if prior else None
        data = n / (n + strength) if n and strength is not None else None
        out[rate] = {
            "n": n,
            "raw": value,
            "shrunk": shrunk,
            "prior_mean": prior["mean"] if prior else None,
            "prior_strength": strength,
            "data_weight": data,
            "prior_weight": None if data is None else 1 - data,
            "reason": NO_DATA[rate] if not n else None,
        }
    return out


def public_unit(stored: Figures, row: Any, scheme: SchemeDocument) -> Figures:
    """A unit's public figures (`schemas.PublicUnitScore`), rounded as the scheme says."""
    r = scheme.rounding
    return {
        "level": row.level,
        "code": row.subject_code,
        "name": row.name,
        "parent_code": row.parent_code,
        "evaluated": int(unpack_counts(stored["counts"])["evaluated"]),
        "response_rate": r.rate(rate_value(stored, "response_rate", "value")),
        "resolution_rate": r.rate(rate_value(stored, "resolution_rate", "value")),
        "satisfaction_rate": r.rate(rate_value(stored, "satisfaction_rate", "value")),
        "three_rate_score": r.score(row.three_rate_score),
        "satisfaction_index": r.score(row.satisfaction_index),
        "rank": row.rank,
        "ranked": int(stored["ranked"]),
        "unranked_reason": UNIT_UNRANKED if row.rank is None else None,
    }


def rate_value(stored: Figures, rate: str, part: str) -> Any:
    """One part (`value`, `n`, `shrunk`, …) of one rate of a stored result (units: rates; cadres: quality)."""
    rates = stored.get("rates") or stored.get("quality")
    if not rates:
        return None
    return rates[rate][RATE_PARTS.index(part)]

"""Counting: the integer counts per holder and category that every rate is computed from (SPEC §7.1).

A `Tally` is filled from the grouped SQL rows (`repository.cohort_facts`) month by month; counts are additive across months because every fact belongs to one request of one month.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import add
from typing import Any

from services.scoring.stats import satisfaction_points

FIELDS = (
    "response_due",
    "responded_on_time",
    "evaluated",
    "resolved",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "first_evaluations",
    "reopened",
    "no_evaluation",
    "resolution_due",
    "resolved_on_time",
    "dispatched",
    "returned",
)
WIDTH = len(FIELDS)
# What one row of the cohort counts for, one bit each (`repository._FLAGS`, the `flags` of its rows' text):
# the request itself, then FIELDS.
FLAG_NAMES = ("requests", *FIELDS)
# FIELDS[0:2] count for whoever held the request for the response, FIELDS[2:12] for the final lead
# handling unit, FIELDS[12:14] for the unit (and handler) each assignment went to.
_IDX = {name: i for i, name in enumerate(FIELDS)}

Vector = list[int]
# How the cohort query encodes a holder in one integer: 4·id for a grid team, 4·id + 1 for a department,
# 4·(located unit id, 0 when unlocated) + 2 for the dispatch centre of where the request is.
TEAM, DEPARTMENT, DISPATCH = 0, 1, 2


def decode_unit(unit: int) -> tuple[int, int]:
    """(kind, id) of an encoded holder."""
    return unit % 4, unit // 4


CategoryCounts = dict[str, Vector]


def zero() -> Vector:
    return [0] * WIDTH


def add_into(target: Vector, source: Sequence[int]) -> None:
    target[:] = map(add, target, source)


def merge_into(target: CategoryCounts, source: Mapping[str, Sequence[int]]) -> None:
    for category, vector in source.items():
        add_into(target.setdefault(category, zero()), vector)


def total(counts: Mapping[str, Sequence[int]]) -> Vector:
    result = zero()
    for vector in counts.values():
        add_into(result, vector)
    return result


@dataclass(slots=True)
class Tally:
    """Counts by (holder, category). Dispatch centres are keyed by the unit the request was located in (0: none)."""

    team: dict[int, CategoryCounts] = field(default_factory=dict)
    department: dict[int, CategoryCounts] = field(default_factory=dict)
    dispatch: dict[int, CategoryCounts] = field(default_factory=dict)
    handler: dict[int, CategoryCounts] = field(default_factory=dict)
    cohort: int = 0

    def _book(self, unit: int) -> tuple[dict[int, CategoryCounts], int]:
        kind, key = decode_unit(unit)
        return (self.team if kind == TEAM else self.department if kind == DEPARTMENT else self.dispatch), key

    def add_facts(self, rows: Iterable[Sequence[Any]]) -> None:
        """Rows of `repository.cohort_facts`: (category, response holder, its handler, final unit, its handler,
        assignment unit, its handler, requests, the counts in FIELDS order, the rows as text); each slice of
        counts goes to the holder (and handler) it belongs to."""
        for row in rows:
            category = row[0]
            counts = row[7 : 8 + WIDTH]
            self.cohort += counts[0]
            for unit, handler, start, end in (
                (row[1], row[2], 0, 2),
                (row[3], row[4], 2, 12),
                (row[5], row[6], 12, 14),
            ):
                values = counts[1 + start : 1 + end]
                if not any(values):
                    continue
                if unit is not None:
                    book, key = self._book(unit)
                    _add_slice(book, key, category, start, end, values)
                if handler is not None:
                    _add_slice(self.handler, handler, category, start, end, values)


def _add_slice(
    book: dict[int, CategoryCounts], key: int, category: str, start: int, end: int, values: Sequence[int]
) -> None:
    by_category = book.get(key)
    if by_category is None:
        by_category = book[key] = {}
    vector = by_category.get(category)
    if vector is None:
        vector = by_category[category] = zero()
    vector[start:end] = map(add, vector[start:end], values)


def rate_inputs(vector: Sequence[int], points: tuple[float, float, float]) -> dict[str, tuple[float, int]]:
    """(successes, n) of every rate from one count vector; satisfaction successes are Σ points."""
    v = vector
    return {
        "response_rate": (float(v[1]), v[0]),
        "resolution_rate": (float(v[3]), v[2]),
        "satisfaction_rate": (satisfaction_points(v[4:7], points), v[2]),
        "on_time_resolution_rate": (float(v[11]), v[10]),
        "reopen_rate": (float(v[8]), v[7]),
        "return_rate": (float(v[13]), v[12]),
        "no_evaluation_share": (float(v[9]), v[2] + v[9]),
    }


def has_data(vector: Sequence[int]) -> bool:
    """Whether one of the three rates has data for the subject: only then is it ranked on them."""
    return bool(vector[_IDX["response_due"]] or vector[_IDX["evaluated"]])

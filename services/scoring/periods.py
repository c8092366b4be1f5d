"""Scoring periods: `2026-03` (month), `2026-Q1` (quarter), `2026` (year), in the city's time zone."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from shared.errors import InvalidInput, field_error
from shared.settings import get_settings

PERIOD_RE = r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
MIN_YEAR, MAX_YEAR = 2000, 2100
PeriodKind = Literal["month", "quarter", "year"]


@dataclass(frozen=True, slots=True)
class Period:
    """A period and its bounds [start, end) as aware UTC datetimes."""

    text: str
    kind: PeriodKind
    start: datetime
    end: datetime

    def months(self) -> list["Period"]:
        """The months of the period, in order (a month is its own only month)."""
        if self.kind == "month":
            return [self]
        year = int(self.text[:4])
        first = 1 if self.kind == "year" else 3 * (int(self.text[-1]) - 1) + 1
        count = 12 if self.kind == "year" else 3
        return [parse_period(f"{year}-{m:02d}") for m in range(first, first + count)]


def _local_start(year: int, month: int) -> datetime:
    zone = ZoneInfo(get_settings().timezone)
    if month > 12:
        year, month = year + 1, month - 12
    return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)


def parse_period(text: str, loc: list[str | int] | None = None) -> Period:
    """Parse a period string; a 422 naming `loc` (default `period`) when it is not one."""
    where: list[str | int] = loc or ["period"]
    if not re.match(PERIOD_RE, text or ""):
        raise InvalidInput(
            "A period is written 2026-03, 2026-Q1 or 2026",
            errors=[field_error(where, "not a period (YYYY, YYYY-MM or YYYY-Qn)")],
        )
    year = int(text[:4])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(
            f"Periods run from {MIN_YEAR} to {MAX_YEAR}",
            errors=[field_error(where, f"the year must be {MIN_YEAR}..{MAX_YEAR}")],
        )
    if len(text) == 4:
        return Period(text, "year", _local_start(year, 1), _local_start(year, 13))
    if text[5] == "Q":
        first = 3 * (int(text[6]) - 1) + 1
        return Period(text, "quarter", _local_start(year, first), _local_start(year, first + 3))
    month = int(text[5:7])
    return Period(text, "month", _local_start(year, month), _local_start(year, month + 1))

"""Monthly partitions of `requests` and `request_events` (migration 0018, docs/operations.md).

Month m (counted from 2020-01 in the city's time zone) owns the ids [m·10¹⁰, (m+1)·10¹⁰) in both tables
(`request_events` by `request_id`, so a request and its trail share a partition). `roll` keeps this month's
and next month's partitions in place and, once this month's exists, moves `requests_id_seq` to its first id:
run hourly by the worker (and safe on several at once: an advisory lock), it creates next month's tables
weeks ahead, so the month's start takes no DDL on a busy table. Requests issued before the job moves the
sequence (the minutes after midnight at most, or the month of the upgrade) stay in the partition before:
a partition holds the ids issued in its month, give or take the job's interval.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.settings import get_settings

IDS_A_MONTH = 10**10  # ten thousand million ids a month; month 240 (2040) starts at 2.4·10¹², far below 2⁵³
FIRST_YEAR = 2020
PARTITIONED = ("requests", "request_events")
_LOCK = 0x6D71_7061  # "mqpa": one roller at a time


def month_index(year: int, month: int) -> int:
    return (year - FIRST_YEAR) * 12 + month - 1


def month_of_index(index: int) -> tuple[int, int]:
    return FIRST_YEAR + index // 12, index % 12 + 1


def first_id(year: int, month: int) -> int:
    """The first id a month owns."""
    return month_index(year, month) * IDS_A_MONTH


def month_of_id(request_id: int) -> tuple[int, int]:
    """The month whose range holds an id (ids below the first month's are the legacy partition's)."""
    return month_of_index(request_id // IDS_A_MONTH)


def partition_name(table: str, year: int, month: int) -> str:
    return f"{table}_y{year}m{month:02d}"


@dataclass(frozen=True, slots=True)
class RollResult:
    created: tuple[str, ...]  # partitions created by this run
    sequence_moved_to: int | None  # the sequence's new value, when this run moved it


async def _bounds(session: AsyncSession, table: str) -> list[tuple[str, int | None, int | None]]:
    """(name, low, high) of each partition of `table`; None for MINVALUE / MAXVALUE."""
    rows = await session.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
        ),
        {"t": table},
    )
    found = []
    for name, bound in rows:
        # FOR VALUES FROM ('840000000000') TO ('850000000000'), or FROM (MINVALUE) TO (…)
        low, high = (part.split(")")[0].strip(" ('") for part in bound.split("FROM (")[1].split(") TO ("))
        found.append((name, None if low == "MINVALUE" else int(low), None if high == "MAXVALUE" else int(high)))
    return found


async def roll(session: AsyncSession, now: datetime) -> RollResult:
    """Partitions for `now`'s month and the next, where no partition covers them yet; then the id sequence
    moved into this month's partition if it is behind it. Idempotent; commit is the caller's."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    local = now.astimezone(ZoneInfo(get_settings().timezone))
    this_month = month_index(local.year, local.month)
    created: list[str] = []
    for table in PARTITIONED:
        bounds = await _bounds(session, table)
        for index in (this_month, this_month + 1):
            year, month = month_of_index(index)
            low, high = first_id(year, month), first_id(year, month) + IDS_A_MONTH
            if any((lo is None or lo < high) and (hi is None or hi > low) for _, lo, hi in bounds):
                continue  # covered (the legacy partition holds the month of the upgrade)
            name = partition_name(table, year, month)
            await session.execute(text(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ({low}) TO ({high})"))
            bounds.append((name, low, high))
            created.append(name)
    moved = None
    year, month = month_of_index(this_month)
    start = first_id(year, month)
    own = any(lo == start for _, lo, _ in await _bounds(session, "requests"))
    last = await session.scalar(text("SELECT last_value FROM requests_id_seq"))
    if own and last is not None and last < start:
        await session.execute(text("SELECT setval('requests_id_seq', :v, false)"), {"v": start})
        moved = start
    return RollResult(created=tuple(created), sequence_moved_to=moved)


async def partitions(session: AsyncSession) -> dict[str, list[tuple[str, int | None, int | None]]]:
    """Every partition of the partitioned tables with its id range (for operators and tests)."""
    return {table: sorted(await _bounds(session, table), key=lambda b: b[1] or -1) for table in PARTITIONED}

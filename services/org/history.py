"""The org as it was at a past time: every update or delete of an org unit, team, department, member, staff
account or leader link leaves the row's kept columns, with the interval they held, in `org_history` (a
database trigger, migration 0010, so every write path is covered). Scoring reads the org this way so that a
past `as_of` counts the org tree and memberships of then (SPEC §7.5)."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# The version of each changed row that held at as_of: valid over [valid_from, valid_to), NULL valid_from
# being "since it was recorded".
_VERSIONS_AT = """
SELECT row_id, row FROM org_history
WHERE table_name = :table AND valid_to > :as_of AND (valid_from IS NULL OR valid_from <= :as_of)
"""


def created_at(row: Mapping[str, Any]) -> datetime | None:
    value = row.get("created_at")
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


async def rows_as_of(
    session: AsyncSession, table: str, current: Iterable[Mapping[str, Any]], as_of: datetime, known_by: datetime
) -> list[dict[str, Any]]:
    """The rows of `table` as they were at `as_of`, among those recorded by `known_by`: `current` (the rows
    now, each with its `id`, `created_at` and kept columns), each replaced by its version of then, plus rows
    deleted since. A row first recorded after `known_by` is left out; the first recorded version of a row
    is taken to hold since before any as_of (an org is set up before the requests it is scored on)."""
    rows = {row["id"]: dict(row) for row in current}
    for row_id, kept in (await session.execute(text(_VERSIONS_AT), {"table": table, "as_of": as_of})).all():
        rows[row_id] = {**rows.get(row_id, {}), **kept, "id": row_id}
    return [row for row in rows.values() if (created := created_at(row)) is None or created <= known_by]

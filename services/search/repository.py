"""Every query of search and exports, over the intake's own visible-requests statement."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from services.models import Category, Department, OrgUnit, Request, Team
from services.search.text import Query

# The expression of migration 0017's index, spelled the same way so the planner matches it.
SEARCH_KEYS = func.search_keys(Request.search_body, Request.received_at, type_=ARRAY(Text))

SECONDS_A_DAY = 86400


def day_number(at: datetime) -> int:
    """The UTC day of an instant, as the database's `search_day` numbers it."""
    return math.floor(at.timestamp() / SECONDS_A_DAY)


def day_keys(days: range) -> list[str]:
    """The index keys of these days (`search_day`)."""
    return [f"d{day}" for day in days]


def _normalised(value: str) -> ColumnElement[str]:
    """A query word normalised by the database itself, as `search_body` was (`search_text`)."""
    return func.search_text(literal(value, Text), None, None, type_=Text)


def matching(query: Query, days: range) -> list[ColumnElement[bool]]:
    """Conditions for "every word of the query occurs, in a request received on one of these days": through
    the index, the words' bigrams (normalised by the database, as the body was) and the days; each word then
    confirmed as a substring of the stored body."""
    conditions: list[ColumnElement[bool]] = [
        SEARCH_KEYS.contains(func.search_query_grams(literal(list(query.terms), ARRAY(Text)), type_=ARRAY(Text))),
        SEARCH_KEYS.overlap(literal(day_keys(days), ARRAY(Text))),
    ]
    conditions += [func.strpos(Request.search_body, _normalised(term)) > 0 for term in query.terms]
    return conditions


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    description: str
    address: str | None
    notes: str | None


async def received_span(session: AsyncSession) -> tuple[datetime, datetime] | None:
    """The first and last receipt of any request (two walks of the `received_at` index), or None."""
    first, last = (await session.execute(select(func.min(Request.received_at), func.max(Request.received_at)))).one()
    return (first, last) if first is not None and last is not None else None


async def candidates(
    session: AsyncSession, visible: Select[Request], query: Query, *, up_to_id: int, days: range, limit: int
) -> list[Candidate]:
    """Up to `limit` visible requests (ids up to `up_to_id`) received on `days` and holding every word,
    newest first."""
    stmt = (
        visible.with_only_columns(Request.id, Request.description, Request.address, Request.notes_text)
        .where(*matching(query, days), Request.id <= up_to_id)
        .order_by(Request.id.desc())
        .limit(limit)
    )
    # Through the index, always: a plan walking back along the primary key would compute the keys of every
    # newer request before reaching these days. Planned for these very words and days (a prepared statement's
    # generic plan cannot fold the query's bigrams into constants and would guess).
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    await session.execute(text("SET LOCAL enable_indexscan = off"))
    found = [Candidate(*row) for row in await session.execute(stmt)]
    # Back to the defaults for the rest of the transaction (an error instead rolls both back with it).
    await session.execute(text("SET LOCAL enable_indexscan = on"))
    await session.execute(text("SET LOCAL plan_cache_mode = auto"))
    return found


async def requests_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Request]:
    if not ids:
        return {}
    return {r.id: r for r in await session.scalars(select(Request).where(Request.id.in_(ids)))}


def by_phone(
    visible: Select[Request], phone_hashes: Sequence[str], before_id: int | None, limit: int
) -> Select[Request]:
    """A caller's requests, newest first (the phone-hash index), after the cursor."""
    stmt = visible.where(Request.citizen_phone_hash.in_(phone_hashes))
    if before_id is not None:
        stmt = stmt.where(Request.id < before_id)
    return stmt.order_by(Request.id.desc()).limit(limit)


async def newest_id(session: AsyncSession) -> int:
    """The highest request id now: an export covers the requests up to it, however long it streams."""
    return int(await session.scalar(select(func.coalesce(func.max(Request.id), 0))) or 0)


# ---- exports ---------------------------------------------------------------------------------------------

_unit = aliased(OrgUnit)

EXPORT_COLUMNS: tuple[Any, ...] = (
    Request.id,
    Request.tracking_no,
    Request.received_at,
    Request.channel,
    Request.category_code,
    Category.name.label("category_name"),
    Category.key_group,
    Request.priority,
    Request.status,
    Request.sla_state,
    _unit.code.label("org_unit_code"),
    _unit.path.label("org_unit_path"),
    Request.lat,
    Request.lon,
    Request.address,
    Request.description,
    Team.name.label("lead_team_name"),
    Department.code.label("lead_department_code"),
    Department.name.label("lead_department_name"),
    Request.handler_id,
    Request.respond_by,
    Request.resolve_by,
    Request.accepted_at,
    Request.resolved_at,
    Request.closed_at,
    Request.outcome,
    Request.close_reason,
    Request.duplicate_of_id,
    Request.anonymous,
    Request.citizen_name_enc,
    Request.citizen_phone_enc,
)


def export_statement(visible: Select[Request], *, open_data: bool) -> Select[Any]:
    """The visible requests with their labels (unit, category, lead), in id order; `open_data` leaves out the
    requests the public may never see (anonymous ones and key-group categories, as Open311 does)."""
    stmt = (
        visible.with_only_columns(*EXPORT_COLUMNS)
        .join(Category, Category.code == Request.category_code)
        .outerjoin(_unit, _unit.id == Request.org_unit_id)
        .outerjoin(Team, Team.id == Request.lead_team_id)
        .outerjoin(Department, Department.id == Request.lead_department_id)
    )
    if open_data:
        stmt = stmt.where(Request.anonymous.is_(False), Category.key_group.is_(False))
    return stmt


async def export_chunk(
    conn: AsyncConnection, stmt: Select[Any], *, after_id: int, up_to_id: int, size: int
) -> list[dict[str, Any]]:
    """The next `size` rows after `after_id` (keyset on the primary key: each chunk a short statement of its
    own, no transaction left open while the client reads)."""
    chunk = stmt.where(Request.id > after_id, Request.id <= up_to_id).order_by(Request.id).limit(size)
    result = await conn.execute(chunk)
    return [dict(row) for row in result.mappings()]


async def units_under(session: AsyncSession, path: str) -> dict[str, tuple[str, str]]:
    """code -> (name, level) of the units on or under `path` and its ancestors (an export's place names)."""
    ancestors = [c for c in path.strip("/").split("/") if c]
    rows = await session.execute(
        select(OrgUnit.code, OrgUnit.name, OrgUnit.level).where(
            OrgUnit.path.startswith(path, autoescape=True) | OrgUnit.code.in_(ancestors)
        )
    )
    return {code: (name, level) for code, name, level in rows}

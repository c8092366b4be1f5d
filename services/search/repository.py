"""Every query of search and exports, over the intake's own visible-requests statement."""

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from services.intake.repository import co_unit_requests
from services.models import Category, Department, OrgUnit, Request, Team
from services.search.text import Query

# The expression of migration 0019's index, spelled the same way so the planner matches it.
SEARCH_KEYS = func.search_keys(
    Request.search_body,
    Request.received_at,
    Request.unit_path,
    Request.category_code,
    Request.status,
    type_=ARRAY(Text),
)

SECONDS_A_DAY = 86400
# The index keys a request's day of receipt is under (`search_days`): the day, and its blocks of 9 and 81.
DAY_BLOCKS = ((81, "f"), (9, "e"), (1, "d"))


def day_number(at: datetime) -> int:
    """The UTC day of an instant, as the database's `search_day` numbers it."""
    return math.floor(at.timestamp() / SECONDS_A_DAY)


def day_keys(days: range) -> list[str]:
    """The fewest index keys (`search_days`) that cover exactly these days: whole blocks of 81 and 9 days
    where they fit, single days at the edges (at most 32 keys besides the 81-day blocks)."""
    keys: list[str] = []
    day = days.start
    while day < days.stop:
        for size, tag in DAY_BLOCKS:
            if day % size == 0 and day + size <= days.stop:
                keys.append(f"{tag}{day // size}")
                day += size
                break
    return keys


@dataclass(frozen=True, slots=True)
class Narrowing:
    """What the index itself can narrow a search to (keys of `search_scope_keys`): a subtree of units, a
    category and those below it, a status. None: not narrowed by it."""

    unit_path: str | None = None
    category: str | None = None
    status: str | None = None

    def keys(self) -> list[str]:
        found = []
        if self.unit_path is not None and self.unit_path != "/":
            found.append(f"u{self.unit_path}")
        if self.category is not None:
            found.append(f"c{self.category}")
        if self.status is not None:
            found.append(f"s{self.status}")
        return found


def _normalised(value: str) -> ColumnElement[str]:
    """A query word normalised by the database itself, as `search_body` was (`search_text`)."""
    return func.search_text(literal(value, Text), None, None, type_=Text)


def holding(query: Query) -> list[ColumnElement[bool]]:
    """Every word of the query occurs in the stored body (as a substring: the bigrams only pre-select)."""
    return [func.strpos(Request.search_body, _normalised(term)) > 0 for term in query.terms]


def matching(query: Query, days: range, narrowing: Narrowing) -> list[ColumnElement[bool]]:
    """Conditions for "every word of the query occurs, in a request received on one of these days, within
    the narrowing": through the index, the words' bigrams (normalised by the database, as the body was), the
    narrowing's keys and the days; each word then confirmed in the stored body."""
    grams = func.search_query_grams(literal(list(query.terms), ARRAY(Text)), type_=ARRAY(Text))
    narrowing_keys = narrowing.keys()
    if narrowing_keys:
        grams = func.array_cat(grams, literal(narrowing_keys, ARRAY(Text)), type_=ARRAY(Text))
    conditions: list[ColumnElement[bool]] = [
        SEARCH_KEYS.contains(grams),
        SEARCH_KEYS.overlap(literal(day_keys(days), ARRAY(Text))),
    ]
    return conditions + holding(query)


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    description: str
    address: str | None
    notes: str | None
    received_at: datetime


CANDIDATE_COLUMNS = (Request.id, Request.description, Request.address, Request.notes_text, Request.received_at)


async def received_span(session: AsyncSession) -> tuple[datetime, datetime] | None:
    """The first and last receipt of any request (two walks of the `received_at` index), or None."""
    first, last = (await session.execute(select(func.min(Request.received_at), func.max(Request.received_at)))).one()
    return (first, last) if first is not None and last is not None else None


async def candidates(
    session: AsyncSession,
    visible: Select[Request],
    query: Query,
    *,
    up_to_id: int,
    days: range,
    narrowing: Narrowing,
    limit: int,
) -> list[Candidate]:
    """Up to `limit` visible requests (ids up to `up_to_id`) within the narrowing, received on `days` and
    holding every word, newest first (inside `planned_through_the_index`)."""
    stmt = (
        visible.with_only_columns(*CANDIDATE_COLUMNS)
        .where(*matching(query, days, narrowing), Request.id <= up_to_id)
        .order_by(Request.id.desc())
        .limit(limit)
    )
    return [Candidate(*row) for row in await session.execute(stmt)]


# Both settings for the transaction only (`SET LOCAL`), in one round trip.
_SETTINGS = "SELECT set_config('plan_cache_mode', '{plan}', true), set_config('enable_indexscan', '{index}', true)"


@asynccontextmanager
async def planned_through_the_index(session: AsyncSession) -> AsyncIterator[None]:
    """For the candidate queries inside: through the index, always (a plan walking back along the primary key
    would compute the keys of every newer request before reaching the days asked for), and planned for
    their very words and days (a prepared statement's generic plan cannot fold the query's bigrams into
    constants and would guess). The defaults come back after (an error rolls both back with the transaction)."""
    await session.execute(text(_SETTINGS.format(plan="force_custom_plan", index="off")))
    yield
    await session.execute(text(_SETTINGS.format(plan="auto", index="on")))


async def outside_subtree(
    session: AsyncSession,
    visible: Select[Request],
    query: Query,
    *,
    subtree: str,
    handler_id: int | None,
    co_unit_staff_id: int | None,
    up_to_id: int,
    received: tuple[datetime, datetime],
    limit: int,
) -> list[Candidate]:
    """The visible requests outside the caller's subtree (those it handles, those its units are co-units
    of) holding every word, newest first: found by handler and co-task, not through the words' index."""
    reach: list[ColumnElement[bool]] = []
    if handler_id is not None:
        reach.append(Request.handler_id == handler_id)
    if co_unit_staff_id is not None:
        ids = list(await session.scalars(co_unit_requests(co_unit_staff_id)))
        if ids:
            reach.append(Request.id.in_(ids))
    if not reach:
        return []
    stmt = (
        visible.with_only_columns(*CANDIDATE_COLUMNS)
        .where(
            or_(*reach),
            ~Request.unit_path.startswith(subtree, autoescape=True),
            Request.id <= up_to_id,
            Request.received_at >= received[0],
            Request.received_at <= received[1],
            *holding(query),
        )
        .order_by(Request.id.desc())
        .limit(limit)
    )
    return [Candidate(*row) for row in await session.execute(stmt)]


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

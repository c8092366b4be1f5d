"""Every query of the intake domain."""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    String,
    Table,
    and_,
    cast,
    exists,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.config.schemas import DuplicateRules
from services.intake.duplicates import DEFAULT_RULES, RequestFacts, bounding_box
from services.models import (
    CoTask,
    Department,
    Feedback,
    Member,
    OrgUnit,
    OutboxEntry,
    Request,
    RequestEvent,
    StaffAccount,
    Team,
    TrackingNumber,
)
from services.models.handling import LIVE_CO_TASK_STATUSES, OPEN_CO_TASK_STATUSES
from services.models.intake import OPEN_STATUSES
from shared.db import driver_connection

# The intake hot path (every `POST /v1/requests`) speaks to asyncpg directly: SQLAlchemy's statement
# machinery and the unit-of-work flush cost more CPU than all the rest of the request (bench/intake.py).
# Its SQL is generated once, here, from the table definitions, so a column added to a table cannot be
# forgotten in one of the places that would otherwise spell it out.

_STILL_OPEN = ", ".join(f"'{s}'" for s in (*OPEN_STATUSES, "duplicate"))
_CANDIDATE_COLUMNS = tuple(
    c.name
    for c in (
        Request.id,
        Request.duplicate_of_id,
        Request.tracking_no,
        Request.received_at,
        Request.category_code,
        Request.lat,
        Request.lon,
        Request.org_unit_id,
        Request.citizen_phone_hash,
        Request.description,
    )
)
_CANDIDATES_SQL = (
    f"SELECT n.new_id, c.* FROM (SELECT nextval('{Request.__tablename__}_id_seq') AS new_id) n LEFT JOIN LATERAL ("
    f" SELECT {', '.join(_CANDIDATE_COLUMNS)} FROM {Request.__tablename__}"
    f" WHERE status IN ({_STILL_OPEN}) AND received_at <= $1 AND ({{}})"
    " ORDER BY received_at LIMIT 200) c ON true"
)

# The same candidates without taking an id (the duplicate check before submitting: nothing is created).
_CANDIDATES_ONLY_SQL = _CANDIDATES_SQL.replace(
    f"SELECT nextval('{Request.__tablename__}_id_seq') AS new_id", "SELECT 0::bigint AS new_id"
)

# Columns routing, handling and the clock fill later (and the row's own timestamps): a new request
# leaves them to their defaults. Every other column of `requests` is written at intake.
_REQUEST_FILLED_LATER = frozenset(
    {
        "sla_state",
        "state_since",
        "pii_erased_at",
        "notes_text",
        "search_body",
        "lead_team_id",
        "lead_department_id",
        "handler_id",
        "co_department_ids",
        "routing_no",
        "return_count",
        "reopen_count",
        "resolution_no",
        "accepted_at",
        "resolved_at",
        "closed_at",
        "suspended_at",
        "escalated_at",
        "outcome",
        "public_reply",
        "close_reason",
        "version",
        "created_at",
        "updated_at",
    }
)


def _insert_columns(
    table: Table, *, defaults: Iterable[str], from_statement: Iterable[str] = ()
) -> tuple[Column[Any], ...]:
    """The columns of `table` an insert takes parameters for: all but those left to their `defaults`
    (each must have one) and those the statement fills itself (`from_statement`)."""
    defaults, from_statement = frozenset(defaults), frozenset(from_statement)
    unknown = (defaults | from_statement) - set(table.c.keys())
    if unknown:
        raise AssertionError(f"{table.name} has no columns {sorted(unknown)}")
    for column in table.c:
        has_default = column.server_default is not None or column.nullable or column is table.autoincrement_column
        if column.name in defaults and not has_default:
            raise AssertionError(f"{table.name}.{column.name} is left out of the insert but has no default")
    return tuple(c for c in table.c if c.name not in defaults | from_statement)


def _table(model: type[Request | RequestEvent | OutboxEntry]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_REQUEST_INSERT = _insert_columns(_table(Request), defaults=_REQUEST_FILLED_LATER)
_EVENT_INSERT = _insert_columns(_table(RequestEvent), defaults=("id",), from_statement=("request_id",))
_OUTBOX_INSERT = _insert_columns(
    _table(OutboxEntry), defaults=("id", "created_at", "processed_at"), from_statement=("request_id",)
)
REQUEST_COLUMNS = tuple(c.name for c in _REQUEST_INSERT)
EVENT_COLUMNS = tuple(c.name for c in _EVENT_INSERT)
OUTBOX_COLUMNS = tuple(c.name for c in _OUTBOX_INSERT)


def _placeholders(columns: tuple[Column[Any], ...], first: int) -> str:
    return ", ".join(f"${n}" for n in range(first, first + len(columns)))


def _build_insert_sql() -> str:
    """One statement, four rows: the tracking number in its registry, then (only if it was free) the request,
    its first event, its outbox entry. The registry holds the numbers' uniqueness: `requests` is partitioned
    by id (migration 0018), where a unique index on anything else cannot be global."""
    names = ", ".join
    after_request = len(_REQUEST_INSERT) + 1
    after_event = after_request + len(_EVENT_INSERT)
    tracking_no = REQUEST_COLUMNS.index("tracking_no") + 1
    return (
        f"WITH t AS (INSERT INTO {TrackingNumber.__tablename__} (tracking_no) VALUES (${tracking_no})"
        " ON CONFLICT DO NOTHING RETURNING tracking_no),"
        f" r AS (INSERT INTO {Request.__tablename__} ({names(REQUEST_COLUMNS)})"
        f" SELECT {_placeholders(_REQUEST_INSERT, 1)} FROM t RETURNING id),"
        f" e AS (INSERT INTO {RequestEvent.__tablename__} (request_id, {names(EVENT_COLUMNS)})"
        f" SELECT r.id, {_placeholders(_EVENT_INSERT, after_request)} FROM r),"
        f" o AS (INSERT INTO {OutboxEntry.__tablename__} (request_id, {names(OUTBOX_COLUMNS)})"
        f" SELECT r.id, {_placeholders(_OUTBOX_INSERT, after_event)} FROM r)"
        " SELECT count(*) FROM r"
    )


INSERT_REQUEST_SQL = _build_insert_sql()


def _encoder(column: Column[Any]) -> Callable[[Any], Any] | None:
    # asyncpg takes jsonb as text unless a codec is set up on every pooled connection.
    return json.dumps if isinstance(column.type, JSONB) else None


_ENCODERS = tuple(_encoder(c) for c in (*_REQUEST_INSERT, *_EVENT_INSERT, *_OUTBOX_INSERT))


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open request the new one might duplicate."""

    id: int
    duplicate_of_id: int | None
    tracking_no: str
    facts: RequestFacts


async def new_request_id_and_candidates(
    session: AsyncSession,
    *,
    received_at: datetime,
    category: str,
    lat: float | None,
    lon: float | None,
    org_unit_id: int | None,
    phone_hashes: Sequence[str],
    rules: DuplicateRules = DEFAULT_RULES,
    reserve_id: bool = True,
) -> tuple[int, list[Candidate]]:
    """A new request id, and the open requests that might be duplicates (an indexed prefilter by `rules`'
    distance and windows; `duplicates.is_duplicate` decides), in one round trip. `reserve_id=False`: only
    the candidates (a check before submitting), no id taken from the sequence (the id returned is 0)."""
    args: list[Any] = [received_at]
    clauses = []
    nearby_window = timedelta(hours=rules.nearby_window_hours)
    if lat is not None and lon is not None:
        args += [category, received_at - nearby_window, *bounding_box(lat, lon, rules.nearby_metres)]
        clauses.append("category_code = $2 AND received_at >= $3 AND lat BETWEEN $4 AND $5 AND lon BETWEEN $6 AND $7")
    elif org_unit_id is not None:
        args += [category, received_at - nearby_window, org_unit_id]
        clauses.append("category_code = $2 AND received_at >= $3 AND lat IS NULL AND org_unit_id = $4")
    if phone_hashes:
        # The phone's hashes (two while the hash key rotates, shared/crypto.py `phone_hashes`): either matches.
        one = len(phone_hashes) == 1
        args += [
            phone_hashes[0] if one else list(phone_hashes),
            received_at - timedelta(hours=rules.same_phone_window_hours),
        ]
        match = f"= ${len(args) - 1}" if one else f"= ANY(${len(args) - 1}::text[])"
        clauses.append(f"citizen_phone_hash {match} AND received_at >= ${len(args)}")
    conn = await driver_connection(session)
    if not clauses:
        if not reserve_id:
            return 0, []
        return int(await conn.fetchval("SELECT nextval('requests_id_seq')")), []
    sql = _CANDIDATES_SQL if reserve_id else _CANDIDATES_ONLY_SQL
    rows = await conn.fetch(sql.format(" OR ".join(f"({c})" for c in clauses)), *args)
    candidates = [
        Candidate(
            r["id"],
            r["duplicate_of_id"],
            r["tracking_no"],
            RequestFacts(
                r["received_at"],
                r["category_code"],
                r["lat"],
                r["lon"],
                r["org_unit_id"],
                phone_hashes[0]
                if phone_hashes and r["citizen_phone_hash"] in phone_hashes
                else r["citizen_phone_hash"],
                r["description"],
            ),
        )
        for r in rows
        if r["id"] is not None
    ]
    return int(rows[0]["new_id"]), candidates


async def insert_new_request(
    session: AsyncSession,
    request: dict[str, Any],
    event: dict[str, Any],
    outbox: dict[str, Any],
    *,
    join_transaction: bool,
) -> bool:
    """Insert the request, its first event and its outbox entry in one statement; False, and nothing
    written, when the tracking number is taken.

    `join_transaction=True`: the insert runs in the session's transaction (begun here if no statement has
    begun it), so it commits or rolls back with the rest of the unit of work: for callers that write other
    rows with the request (a visit, an Idempotency-Key's answer). `join_transaction=False` (the hot path,
    which writes nothing else): when no statement has begun a transaction the insert commits on its own,
    atomic because it is one statement, and the request costs no BEGIN and COMMIT round trips.
    """
    conn = await driver_connection(session)
    if join_transaction and not conn.is_in_transaction():
        # Begin through SQLAlchemy, so the session's commit or rollback ends this transaction too.
        await session.execute(select(literal_column("1")))
    values = [
        *(request[c] for c in REQUEST_COLUMNS),
        *(event[c] for c in EVENT_COLUMNS),
        *(outbox[c] for c in OUTBOX_COLUMNS),
    ]
    args = [v if encode is None else encode(v) for v, encode in zip(values, _ENCODERS, strict=True)]
    inserted = await conn.fetchval(INSERT_REQUEST_SQL, *args)
    return bool(inserted)


async def by_tracking_no(session: AsyncSession, tracking_no: str) -> Request | None:
    result: Request | None = await session.scalar(select(Request).where(Request.tracking_no == tracking_no))
    return result


async def events_of(session: AsyncSession, request_id: int) -> list[RequestEvent]:
    return list(
        await session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == request_id).order_by(RequestEvent.seq)
        )
    )


def co_unit_requests(staff_id: int, statuses: tuple[str, ...] = LIVE_CO_TASK_STATUSES) -> Select[int]:
    """Ids of the requests where a unit (team or department) the staff account belongs to has a co-task."""
    return (
        select(CoTask.request_id)
        .join(Member, or_(Member.team_id == CoTask.team_id, Member.department_id == CoTask.department_id))
        .where(Member.staff_id == staff_id, CoTask.status.in_(statuses))
    )


async def is_co_unit_member(session: AsyncSession, staff_id: int, request_id: int) -> bool:
    """Whether the staff account belongs to a co-unit of the request (a live co-task's team or department)."""
    found = await session.scalar(select(exists(co_unit_requests(staff_id).where(CoTask.request_id == request_id))))
    return bool(found)


def visible_query(
    *,
    scope_path: str,
    created_by: str | None,
    handler_id_visible: int | None,
    co_unit_staff_id: int | None = None,
    co_units_only: bool = False,
) -> Select[Request]:
    """Requests visible to a caller: under its subtree (staff), its own (integrations), the joint requests its
    units work on as co-units (staff). `co_units_only`: only those with an open co-task. Unordered."""
    visible = Request.unit_path.startswith(scope_path, autoescape=True)
    if handler_id_visible is not None:
        visible = or_(visible, Request.handler_id == handler_id_visible)
    if co_unit_staff_id is not None:
        visible = or_(visible, Request.id.in_(co_unit_requests(co_unit_staff_id)))
    stmt = select(Request).where(visible)
    if co_units_only:
        staff_id = co_unit_staff_id if co_unit_staff_id is not None else 0
        stmt = stmt.where(Request.id.in_(co_unit_requests(staff_id, OPEN_CO_TASK_STATUSES)))
    if created_by is not None:
        stmt = stmt.where(Request.created_by == created_by)
    return stmt


def unit_queue(staff_id: int) -> ColumnElement[bool]:
    """Led by a grid team or department `staff_id` is a member of, and not yet claimed by anyone (the queue)."""
    teams = select(Member.team_id).where(Member.staff_id == staff_id, Member.team_id.is_not(None))
    departments = select(Member.department_id).where(Member.staff_id == staff_id, Member.department_id.is_not(None))
    return and_(
        Request.handler_id.is_(None),
        Request.status.in_(OPEN_STATUSES),
        or_(Request.lead_team_id.in_(teams), Request.lead_department_id.in_(departments)),
    )


async def feedback_of(session: AsyncSession, request_ids: Iterable[int]) -> dict[int, list[Feedback]]:
    """The citizens' evaluations of these requests, oldest first, in one query (none when no ids)."""
    ids = sorted(set(request_ids))
    if not ids:
        return {}
    found: dict[int, list[Feedback]] = {}
    for row in await session.scalars(
        select(Feedback).where(Feedback.request_id.in_(ids)).order_by(Feedback.request_id, Feedback.id)
    ):
        found.setdefault(row.request_id, []).append(row)
    return found


@dataclass(slots=True)
class Labels:
    """The codes and names behind the ids that requests refer to (see `labels_of`)."""

    unit_codes: dict[int, str] = field(default_factory=dict)
    team_names: dict[int, str] = field(default_factory=dict)
    departments: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (code, name)
    staff_names: dict[int, str] = field(default_factory=dict)


async def labels_of(session: AsyncSession, requests: Iterable[Request]) -> Labels:
    """Org-unit codes, team names, department codes and names, and handler names of these requests,
    in one round trip however many requests (a page of 200 is one query, not 200), none when no ids."""
    unit_ids: set[int] = set()
    team_ids: set[int] = set()
    department_ids: set[int] = set()
    staff_ids: set[int] = set()
    for r in requests:
        if r.org_unit_id is not None:
            unit_ids.add(r.org_unit_id)
        if r.lead_team_id is not None:
            team_ids.add(r.lead_team_id)
        if r.lead_department_id is not None:
            department_ids.add(r.lead_department_id)
        department_ids.update(r.co_department_ids or ())
        if r.handler_id is not None:
            staff_ids.add(r.handler_id)
    no_code = cast(null(), String)
    parts: list[Select[str, int, str, str]] = []
    if unit_ids:
        parts.append(
            select(
                literal_column("'unit'", String).label("kind"), OrgUnit.id, OrgUnit.code, no_code.label("name")
            ).where(OrgUnit.id.in_(unit_ids))
        )
    if team_ids:
        parts.append(select(literal_column("'team'", String), Team.id, no_code, Team.name).where(Team.id.in_(team_ids)))
    if department_ids:
        parts.append(
            select(literal_column("'department'", String), Department.id, Department.code, Department.name).where(
                Department.id.in_(department_ids)
            )
        )
    if staff_ids:
        parts.append(
            select(literal_column("'staff'", String), StaffAccount.id, no_code, StaffAccount.display_name).where(
                StaffAccount.id.in_(staff_ids)
            )
        )
    labels = Labels()
    if not parts:
        return labels
    stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    for kind, id_, code, name in await session.execute(stmt):
        if kind == "unit":
            labels.unit_codes[id_] = code
        elif kind == "team":
            labels.team_names[id_] = name
        elif kind == "department":
            labels.departments[id_] = (code, name)
        else:
            labels.staff_names[id_] = name
    return labels


@dataclass(frozen=True, slots=True)
class CoTaskRow:
    """A co-task with its unit's code and name."""

    task: CoTask
    unit_code: str | None
    unit_name: str


async def co_tasks_of(session: AsyncSession, request_ids: Iterable[int]) -> dict[int, list[CoTaskRow]]:
    """The co-tasks of these requests with their units' names, in one query (none when no ids)."""
    ids = sorted(set(request_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(CoTask, Team.name, Department.code, Department.name)
        .outerjoin(Team, Team.id == CoTask.team_id)
        .outerjoin(Department, Department.id == CoTask.department_id)
        .where(CoTask.request_id.in_(ids))
        .order_by(CoTask.request_id, CoTask.id)
    )
    found: dict[int, list[CoTaskRow]] = {}
    for task, team_name, department_code, department_name in rows.all():
        name = team_name if task.team_id is not None else department_name
        found.setdefault(task.request_id, []).append(CoTaskRow(task, department_code, name or ""))
    return found

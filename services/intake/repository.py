"""Every query of the intake domain."""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, literal_column, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.duplicates import NEARBY_METRES, NEARBY_WINDOW, SAME_PHONE_WINDOW, RequestFacts, bounding_box
from services.models import Department, OrgUnit, Request, RequestEvent, StaffAccount, Team
from services.models.intake import OPEN_STATUSES
from shared.db import driver_connection

# The intake hot path (every `POST /v1/requests`) speaks to asyncpg directly: SQLAlchemy's statement
# machinery and the unit-of-work flush cost more CPU than all the rest of the request (bench/intake.py).
# The SQL below names the columns of `models.Request`, `RequestEvent` and `OutboxEntry`.

_STILL_OPEN = ", ".join(f"'{s}'" for s in (*OPEN_STATUSES, "duplicate"))
_CANDIDATES_SQL = (
    "SELECT n.new_id, c.* FROM (SELECT nextval('requests_id_seq') AS new_id) n LEFT JOIN LATERAL ("
    " SELECT id, duplicate_of_id, tracking_no, received_at, category_code, lat, lon, org_unit_id,"
    " citizen_phone_hash, description FROM requests"
    f" WHERE status IN ({_STILL_OPEN}) AND received_at <= $1 AND ({{}})"
    " ORDER BY received_at LIMIT 200) c ON true"
)


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
    phone_hash: str | None,
) -> tuple[int, list[Candidate]]:
    """A new request id, and the open requests that might be duplicates (an indexed prefilter;
    `duplicates.is_duplicate` decides), in one round trip."""
    args: list[Any] = [received_at]
    clauses = []
    if lat is not None and lon is not None:
        args += [category, received_at - NEARBY_WINDOW, *bounding_box(lat, lon, NEARBY_METRES)]
        clauses.append("category_code = $2 AND received_at >= $3 AND lat BETWEEN $4 AND $5 AND lon BETWEEN $6 AND $7")
    elif org_unit_id is not None:
        args += [category, received_at - NEARBY_WINDOW, org_unit_id]
        clauses.append("category_code = $2 AND received_at >= $3 AND lat IS NULL AND org_unit_id = $4")
    if phone_hash is not None:
        args += [phone_hash, received_at - SAME_PHONE_WINDOW]
        clauses.append(f"citizen_phone_hash = ${len(args) - 1} AND received_at >= ${len(args)}")
    conn = await driver_connection(session)
    if not clauses:
        return int(await conn.fetchval("SELECT nextval('requests_id_seq')")), []
    rows = await conn.fetch(_CANDIDATES_SQL.format(" OR ".join(f"({c})" for c in clauses)), *args)
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
                r["citizen_phone_hash"],
                r["description"],
            ),
        )
        for r in rows
        if r["id"] is not None
    ]
    return int(rows[0]["new_id"]), candidates


_INSERT_REQUEST_SQL = """
WITH r AS (
    INSERT INTO requests (
        id, tracking_no, channel, category_code, description, priority, status, lat, lon, source_lat, source_lon,
        coord_system, address, org_unit_id, unit_path, citizen_name_enc, citizen_phone_enc, citizen_phone_hash,
        anonymous, citizen_token_hash, media_urls, external_id, attributes, received_at, respond_by, resolve_by,
        respond_warn_at, resolve_warn_at, sla_policy_id, duplicate_of_id, visit_id, created_by
    ) VALUES (
        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
        $24, $25, $26, $27, $28, $29, $30, $31, $32
    )
    ON CONFLICT (tracking_no) DO NOTHING
    RETURNING id
), e AS (
    INSERT INTO request_events (request_id, seq, kind, actor, from_status, to_status, note, public, data, occurred_at,
                                prev_hash, hash)
    SELECT r.id, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, $43 FROM r
), o AS (
    INSERT INTO outbox (topic, job_id, request_id, payload) SELECT $44, $45, r.id, $46 FROM r
)
SELECT count(*) FROM r
"""

_REQUEST_COLUMNS = (
    "id",
    "tracking_no",
    "channel",
    "category_code",
    "description",
    "priority",
    "status",
    "lat",
    "lon",
    "source_lat",
    "source_lon",
    "coord_system",
    "address",
    "org_unit_id",
    "unit_path",
    "citizen_name_enc",
    "citizen_phone_enc",
    "citizen_phone_hash",
    "anonymous",
    "citizen_token_hash",
    "media_urls",
    "external_id",
    "attributes",
    "received_at",
    "respond_by",
    "resolve_by",
    "respond_warn_at",
    "resolve_warn_at",
    "sla_policy_id",
    "duplicate_of_id",
    "visit_id",
    "created_by",
)
_EVENT_COLUMNS = (
    "seq",
    "kind",
    "actor",
    "from_status",
    "to_status",
    "note",
    "public",
    "data",
    "occurred_at",
    "prev_hash",
    "hash",
)


async def insert_new_request(
    session: AsyncSession, request: dict[str, Any], event: dict[str, Any], outbox: dict[str, Any]
) -> bool:
    """Insert the request, its first event and its outbox entry in one statement (so atomic even
    outside a transaction); False, and nothing written, when the tracking number is taken."""
    conn = await driver_connection(session)
    args = [request[c] for c in _REQUEST_COLUMNS]
    args[_REQUEST_COLUMNS.index("attributes")] = json.dumps(request["attributes"])
    event_args = [event[c] for c in _EVENT_COLUMNS]
    event_args[_EVENT_COLUMNS.index("data")] = json.dumps(event["data"])
    inserted = await conn.fetchval(
        _INSERT_REQUEST_SQL, *args, *event_args, outbox["topic"], outbox["job_id"], json.dumps(outbox["payload"])
    )
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


def list_query(
    *,
    scope_path: str,
    created_by: str | None,
    handler_id_visible: int | None,
    after_id: int | None,
    limit: int,
) -> Select[Request]:
    """Requests visible to a caller: under its subtree (staff), its own (integrations), newest first."""
    visible = Request.unit_path.startswith(scope_path, autoescape=True)
    if handler_id_visible is not None:
        visible = or_(visible, Request.handler_id == handler_id_visible)
    stmt = select(Request).where(visible)
    if created_by is not None:
        stmt = stmt.where(Request.created_by == created_by)
    if after_id is not None:
        stmt = stmt.where(Request.id < after_id)
    return stmt.order_by(Request.id.desc()).limit(limit)


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

"""Every query of the Open311 view. Public reads leave out anonymous requests and key-group categories."""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Category, Department, OrgUnit, Request, RequestEvent, Team
from services.open311.mapping import CLOSED, HIDDEN_SERVICES
from services.open311.schemas import PublicStatus

CREATION_EVENT = "received"


def _public(stmt: Select[Request, str]) -> Select[Request, str]:
    return stmt.join(Category, Category.code == Request.category_code).where(
        Request.anonymous.is_(False), Category.key_group.is_(False)
    )


async def city_code(session: AsyncSession) -> str | None:
    code: str | None = await session.scalar(select(OrgUnit.code).where(OrgUnit.parent_id.is_(None)).limit(1))
    return code


async def services(session: AsyncSession) -> list[Category]:
    """Active categories a citizen may file, by code."""
    stmt = (
        select(Category).where(Category.active.is_(True), Category.code.not_in(HIDDEN_SERVICES)).order_by(Category.code)
    )
    return list(await session.scalars(stmt))


async def category_names(session: AsyncSession, codes: Collection[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = await session.execute(select(Category.code, Category.name).where(Category.code.in_(codes)))
    return {code: name for code, name in rows}


async def service(session: AsyncSession, code: str) -> Category | None:
    category: Category | None = await session.scalar(
        select(Category).where(Category.code == code, Category.active.is_(True), Category.code.not_in(HIDDEN_SERVICES))
    )
    return category


async def public_requests(
    session: AsyncSession,
    *,
    ids: Collection[int] | None,
    service_codes: Collection[str] | None,
    statuses: Collection[PublicStatus],
    received_from: datetime,
    received_to: datetime,
    limit: int,
) -> list[tuple[Request, str]]:
    """Public requests with their service names, newest first; ids, when given, override the other filters."""
    stmt = _public(select(Request, Category.name))
    if ids is not None:
        stmt = stmt.where(Request.id.in_(ids))
    else:
        stmt = stmt.where(Request.received_at >= received_from, Request.received_at <= received_to)
        if service_codes is not None:
            stmt = stmt.where(Request.category_code.in_(service_codes))
        if statuses and len(statuses) == 1:
            closed = Request.status.in_(CLOSED)
            stmt = stmt.where(closed if "closed" in statuses else ~closed)
    rows = await session.execute(stmt.order_by(Request.received_at.desc(), Request.id.desc()).limit(limit))
    return [(request, name) for request, name in rows]


async def public_request(session: AsyncSession, request_id: int) -> tuple[Request, str] | None:
    row = (await session.execute(_public(select(Request, Category.name)).where(Request.id == request_id))).first()
    return (row[0], row[1]) if row else None


async def handling_unit_names(
    session: AsyncSession, team_ids: Collection[int], department_ids: Collection[int]
) -> tuple[dict[int, str], dict[int, str]]:
    teams: dict[int, str] = {}
    departments: dict[int, str] = {}
    if team_ids:
        rows = await session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids)))
        teams = {team_id: name for team_id, name in rows}
    if department_ids:
        rows = await session.execute(select(Department.id, Department.name).where(Department.id.in_(department_ids)))
        departments = {department_id: name for department_id, name in rows}
    return teams, departments


async def unit_codes(session: AsyncSession, unit_ids: Collection[int]) -> dict[int, str]:
    if not unit_ids:
        return {}
    rows = await session.execute(select(OrgUnit.id, OrgUnit.code).where(OrgUnit.id.in_(unit_ids)))
    return {unit_id: code for unit_id, code in rows}


async def latest_public_notes(session: AsyncSession, request_ids: Collection[int]) -> dict[int, str]:
    """Each request's most recent public note (one DISTINCT ON scan, not one query per request)."""
    if not request_ids:
        return {}
    stmt = (
        select(RequestEvent.request_id, RequestEvent.note)
        .where(
            RequestEvent.request_id.in_(request_ids),
            RequestEvent.public.is_(True),
            RequestEvent.note.is_not(None),
            RequestEvent.note != "",
        )
        .ext(distinct_on(RequestEvent.request_id))
        .order_by(RequestEvent.request_id, RequestEvent.seq.desc())
    )
    rows = await session.execute(stmt)
    return {request_id: note for request_id, note in rows if note}


async def public_status_changes(
    session: AsyncSession, occurred_from: datetime, occurred_to: datetime, limit: int
) -> list[RequestEvent]:
    """Status changes of public requests in the range, oldest first (a client pages by `start_date`)."""
    stmt = (
        select(RequestEvent)
        .join(Request, Request.id == RequestEvent.request_id)
        .join(Category, Category.code == Request.category_code)
        .where(
            RequestEvent.to_status.is_not(None),
            RequestEvent.kind != CREATION_EVENT,
            RequestEvent.occurred_at >= occurred_from,
            RequestEvent.occurred_at <= occurred_to,
            Request.anonymous.is_(False),
            Category.key_group.is_(False),
        )
        .order_by(RequestEvent.occurred_at, RequestEvent.id)
        .limit(limit)
    )
    return list(await session.scalars(stmt))

"""Every query of the intake domain."""

from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.duplicates import NEARBY_METRES, NEARBY_WINDOW, SAME_PHONE_WINDOW, bounding_box
from services.intake.models import OPEN_STATUSES, Request, RequestEvent


async def duplicate_candidates(
    session: AsyncSession,
    *,
    received_at: datetime,
    category: str,
    lat: float | None,
    lon: float | None,
    org_unit_id: int | None,
    phone_hash: str | None,
) -> list[Request]:
    """Open requests that might be duplicates: an indexed prefilter; `duplicates.is_duplicate` decides."""
    still_open = Request.status.in_((*OPEN_STATUSES, "duplicate"))
    place = None
    if lat is not None and lon is not None:
        south, north, west, east = bounding_box(lat, lon, NEARBY_METRES)
        place = and_(Request.lat.between(south, north), Request.lon.between(west, east))
    elif org_unit_id is not None:
        place = and_(Request.lat.is_(None), Request.org_unit_id == org_unit_id)
    clauses = []
    if place is not None:
        clauses.append(
            and_(Request.category_code == category, Request.received_at >= received_at - NEARBY_WINDOW, place)
        )
    if phone_hash is not None:
        clauses.append(
            and_(Request.citizen_phone_hash == phone_hash, Request.received_at >= received_at - SAME_PHONE_WINDOW)
        )
    if not clauses:
        return []
    stmt = select(Request).where(still_open, Request.received_at <= received_at, or_(*clauses))
    return list(await session.scalars(stmt.order_by(Request.received_at).limit(200)))


async def tracking_no_taken(session: AsyncSession, tracking_no: str) -> bool:
    return await session.scalar(select(Request.id).where(Request.tracking_no == tracking_no)) is not None


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

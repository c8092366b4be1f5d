"""Every query of attachments."""

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Request, RequestEvent
from services.models.attachments import Attachment


async def locked_request(session: AsyncSession, request_id: int) -> Request | None:
    """The request, its row locked until the transaction ends: uploads to one request are counted one at a time."""
    return await session.get(Request, request_id, with_for_update=True, populate_existing=True)


async def event_at(session: AsyncSession, request_id: int, seq: int) -> RequestEvent | None:
    event: RequestEvent | None = await session.scalar(
        select(RequestEvent).where(RequestEvent.request_id == request_id, RequestEvent.seq == seq)
    )
    return event


async def count_of(session: AsyncSession, request_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(Attachment.request_id == request_id)) or 0)


async def of_request(session: AsyncSession, request_id: int) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.request_id == request_id).order_by(Attachment.id)
    return list(await session.scalars(stmt))


async def by_public_token(session: AsyncSession, token: str) -> Attachment | None:
    attachment: Attachment | None = await session.scalar(select(Attachment).where(Attachment.public_token == token))
    return attachment


async def first_public_tokens(session: AsyncSession, request_ids: Collection[int]) -> dict[int, str]:
    """Each request's first public copy: a photo of the request itself before one of a trail entry."""
    if not request_ids:
        return {}
    stmt = (
        select(Attachment.request_id, Attachment.public_token)
        .where(Attachment.request_id.in_(request_ids), Attachment.public_token.is_not(None))
        .order_by(Attachment.request_id, Attachment.target != "request", Attachment.id)
        .ext(distinct_on(Attachment.request_id))
    )
    return {request_id: token for request_id, token in await session.execute(stmt) if token}

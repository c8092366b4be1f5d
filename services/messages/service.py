"""Reading and retrying messages (administrators), and the feedback invitation behind the link."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.messages.errors import InvitationNotFound, MessageNotFailed, MessageNotFound
from services.messages.queue import token_hash
from services.messages.replies import invitation_by_token_hash
from services.models import Request
from services.models.messages import CitizenMessage, FeedbackInvitation
from shared.auth import Principal
from shared.pagination import decode_cursor, next_cursor
from shared.settings import get_settings
from shared.views import Rows, RowWith

CHOICES = ["satisfied", "basically_satisfied", "dissatisfied"]


@dataclass(frozen=True, slots=True)
class MessageView(RowWith[CitizenMessage]):
    """A message as `MessageOut` shows it: a next attempt only while it is pending."""

    @property
    def next_attempt_at(self) -> datetime | None:
        return self.row.next_attempt_at if self.row.state == "pending" else None


async def list_messages(
    session: AsyncSession,
    principal: Principal,
    *,
    request_id: int | None,
    state: str | None,
    medium: str | None,
    cursor: str | None,
    limit: int,
) -> Rows[MessageView]:
    """Messages of requests in the caller's subtree, newest first."""
    stmt = (
        select(CitizenMessage)
        .join(Request, Request.id == CitizenMessage.request_id)
        .where(Request.unit_path.startswith(principal.scope_path, autoescape=True))
    )
    if request_id is not None:
        stmt = stmt.where(CitizenMessage.request_id == request_id)
    if state is not None:
        stmt = stmt.where(CitizenMessage.state == state)
    if medium is not None:
        stmt = stmt.where(CitizenMessage.medium == medium)
    before = decode_cursor(cursor)
    if before is not None:
        stmt = stmt.where(CitizenMessage.id < before)
    rows = list(await session.scalars(stmt.order_by(CitizenMessage.id.desc()).limit(limit)))
    return Rows([MessageView(m) for m in rows], next_cursor([m.id for m in rows], limit))


async def retry_message(session: AsyncSession, principal: Principal, message_id: int) -> MessageView:
    """Send a failed message again (after a fix: the gateway's credit, a template): a new retry period."""
    message = await session.scalar(
        select(CitizenMessage)
        .join(Request, Request.id == CitizenMessage.request_id)
        .where(CitizenMessage.id == message_id, Request.unit_path.startswith(principal.scope_path, autoescape=True))
        .with_for_update(of=CitizenMessage)
    )
    if message is None:
        raise MessageNotFound(f"No message {message_id}")
    if message.state != "failed":
        raise MessageNotFailed(f"Message {message_id} is {message.state}")
    now = datetime.now(UTC)
    before = {"state": message.state, "last_error": message.last_error}
    message.state, message.next_attempt_at = "pending", now
    message.give_up_at = now + timedelta(hours=get_settings().messages_retry_hours)
    await audit.record(session, principal, "message.retried", "citizen_message", message.id, before=before,
                       after={"state": "pending"})  # fmt: skip
    await session.flush()
    return MessageView(message)


@dataclass(frozen=True, slots=True)
class Invitation:
    invitation: FeedbackInvitation
    request: Request

    @property
    def open(self) -> bool:
        return (
            self.invitation.used_at is None
            and self.request.status == "resolved"
            and self.request.resolution_no == self.invitation.resolution_no
        )


async def invitation_for_token(session: AsyncSession, token: str, *, lock: bool = False) -> Invitation:
    """The invitation a link's token opens, with its request (locked for feedback when `lock`)."""
    invitation = await invitation_by_token_hash(session, token_hash(token))
    if invitation is None:
        raise InvitationNotFound("No such feedback invitation")
    request = await session.get(Request, invitation.request_id, with_for_update=lock, populate_existing=lock)
    if request is None or request.anonymous:
        raise InvitationNotFound("No such feedback invitation")
    return Invitation(invitation, request)

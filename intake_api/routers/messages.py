"""Messages to citizens (docs/messages.md): the SMS gateway's replies, the feedback link, the admin view.

The reply endpoint is called by the SMS gateway, signed with the shared secret; the answer it carries goes
through the one feedback rule (`services.handling.service.record_feedback`), as the citizen's own feedback
does. The invitation endpoints are the citizen's (no login: the link's token is the proof), rate-limited
per address like tracking.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.security import APIKeyHeader

from intake_api.deps import AdminPrincipal
from intake_api.routers.track import client_ip
from services.handling import service as handling
from services.handling.errors import AlreadyEvaluated, NotYetResolved
from services.handling.schemas import FeedbackIn, FeedbackOut
from services.intake.phones import normalise_phone
from services.messages import replies
from services.messages import service as messages
from services.messages.errors import BadGatewaySignature
from services.messages.gateway import SIGNATURE_HEADER, TIMESTAMP_HEADER, gateway_config, verify
from services.messages.schemas import (
    CitizenNotifyBody,
    InvitationFeedbackIn,
    InvitationOut,
    MessageMedium,
    MessageOut,
    MessageState,
    SmsReplyIn,
    SmsReplyOut,
)
from services.messages.service import CHOICES, MessageView
from services.models.messages import SmsReply
from shared.crypto import phone_hashes
from shared.deps import SessionDep
from shared.errors import InvalidInput, field_error
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.ratelimit import hit
from shared.settings import get_settings
from shared.views import Rows
from shared.web.errors import problem_responses

router = APIRouter(tags=["messages to citizens"])
webhook_router = APIRouter(tags=["webhook events"])

gateway_signature = APIKeyHeader(
    name=SIGNATURE_HEADER,
    scheme_name="SmsGatewaySignature",
    description="The SMS gateway's signature: `sha256=` and the hex HMAC-SHA256 of `<X-Minqing-Sms-Timestamp>.` "
    "followed by the body, under `SMS_GATEWAY_SECRET`; the timestamp within 5 minutes of now",
    auto_error=False,
)
Token = Annotated[
    str,
    Path(pattern=r"^[A-Za-z0-9_-]{16}$", description="The token of the feedback link", examples=["Qm9vZ2llV29vZ2ll"]),
]
MessageId = Annotated[int, Path(ge=1, le=2**62, description="The message's id")]


async def signed_by_gateway(
    request: Request,
    signature: Annotated[str | None, Depends(gateway_signature)],
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER, description="Unix seconds")] = None,
) -> None:
    """Let through only requests signed by the SMS gateway (the raw body, as it came)."""
    body = await request.body()
    if not verify(gateway_config().secret, timestamp, body, signature):
        raise BadGatewaySignature("Sign the request with the SMS gateway secret and a current timestamp")


def _repeat(reply: SmsReply) -> SmsReplyOut:
    return SmsReplyOut(
        outcome=reply.outcome,
        answer=reply.answer,
        status=reply.status,
        reopened=reply.outcome == "recorded" and reply.status == "assigned",
        repeat=True,
    )


@router.post(
    "/v1/messages/sms/replies",
    response_model=SmsReplyOut,
    responses=problem_responses(401, 413, 422),
    dependencies=[Depends(signed_by_gateway)],
    summary="An SMS reply from a citizen (called by the SMS gateway)",
)
async def sms_reply(session: SessionDep, body: SmsReplyIn) -> SmsReplyOut:
    """Record the citizen's evaluation that an SMS reply carries (`1` satisfied, `2` basically satisfied, `3`
    dissatisfied, optionally after the invitation's reply code). Answers `200` for every signed reply, read
    or not, so the gateway does not resend it; the same `message_id` again changes nothing."""
    try:
        phone = normalise_phone(body.from_)
    except ValueError as exc:
        raise InvalidInput("The sender's number cannot be read", errors=[field_error("from", str(exc))]) from None
    seen = await replies.seen_reply(session, body.message_id)
    if seen is not None:
        return _repeat(seen)
    hashes = phone_hashes(phone)  # the reply is kept under the first; an invitation may carry any of them
    phone_hash = hashes[0]
    parsed = replies.parse_reply(body.text)
    match = await replies.find_invitation(session, hashes, parsed) if parsed.answer else None
    outcome, status, reopened = ("unreadable" if parsed.answer is None else "no_invitation"), None, False
    if parsed.answer is not None and match is not None:
        locked = await handling.request_for_feedback(session, match.request_id)
        if locked.status != "resolved" or locked.resolution_no != match.resolution_no:
            outcome = "expired"
        else:
            feedback = FeedbackIn(resolved=replies.RESOLVED[parsed.answer], satisfaction=parsed.answer)
            try:
                status, reopened = await handling.record_feedback(session, locked, feedback, "citizen:sms")
                outcome = "recorded"
            except AlreadyEvaluated:
                outcome = "already_evaluated"
            await replies.mark_used(session, match.invitation_id)
    await replies.record_reply(
        session,
        gateway_message_id=body.message_id,
        phone_hash=phone_hash,
        parsed=parsed,
        match=match,
        outcome=outcome,
        status=status,
        received_at=body.received_at or datetime.now(UTC),
    )
    return SmsReplyOut(outcome=outcome, answer=parsed.answer, status=status, reopened=reopened, repeat=False)


async def _citizen_rate(request: Request) -> None:
    await hit(f"track:{client_ip(request)}", get_settings().citizen_rate_per_minute, 60)


@router.get(
    "/v1/track/invitations/{token}",
    response_model=InvitationOut,
    responses=problem_responses(404, 422, 429),
    tags=["citizen tracking"],
    summary="The resolution a feedback link invites you to evaluate",
)
async def read_invitation(request: Request, session: SessionDep, token: Token) -> InvitationOut:
    """What was done (outcome and public reply) and whether feedback may still be given; no personal data.
    Rate-limited per IP."""
    await _citizen_rate(request)
    found = await messages.invitation_for_token(session, token)
    return InvitationOut(
        tracking_no=found.request.tracking_no,
        status=found.request.status,
        resolution_no=found.invitation.resolution_no,
        outcome=found.request.outcome,
        public_reply=found.request.public_reply,
        resolved_at=found.request.resolved_at,
        open=found.open,
        choices=CHOICES,
    )


@router.post(
    "/v1/track/invitations/{token}/feedback",
    response_model=FeedbackOut,
    responses=problem_responses(404, 409, 422, 429),
    tags=["citizen tracking"],
    summary="Evaluate the resolution a feedback link names",
)
async def invitation_feedback(
    request: Request, session: SessionDep, token: Token, body: InvitationFeedbackIn
) -> FeedbackOut:
    """Your evaluation (once per resolution; a dissatisfied one reopens the request once). Rate-limited per IP."""
    await _citizen_rate(request)
    found = await messages.invitation_for_token(session, token, lock=True)
    if found.invitation.used_at is not None:
        raise AlreadyEvaluated("This resolution has already been evaluated")
    if found.request.resolution_no != found.invitation.resolution_no:
        raise NotYetResolved("The request has moved on since this link was sent (it was reopened)")
    feedback = FeedbackIn(resolved=body.resolved, satisfaction=body.satisfaction, comment=body.comment)
    status, reopened = await handling.record_feedback(session, found.request, feedback, "citizen:link")
    await replies.mark_used(session, found.invitation.id)
    return FeedbackOut(
        request_id=found.request.id, resolution_no=found.invitation.resolution_no, status=status, reopened=reopened
    )


@router.get(
    "/v1/admin/messages",
    response_model=Page[MessageOut],
    responses=problem_responses(401, 403, 422),
    tags=["messages to citizens"],
    summary="Messages to citizens and their delivery",
)
async def list_messages(
    session: SessionDep,
    principal: AdminPrincipal,
    request_id: Annotated[int | None, Query(ge=1, le=2**62, description="Only this request's messages")] = None,
    state: MessageState | None = None,
    medium: MessageMedium | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Rows[MessageView]:
    """Messages owed to citizens of requests in your subtree, newest first: state, attempts, the gateway's last
    code and error. No phone, no token, no rendered text."""
    return await messages.list_messages(
        session, principal, request_id=request_id, state=state, medium=medium, cursor=cursor, limit=limit
    )


@router.post(
    "/v1/admin/messages/{message_id}/retry",
    response_model=MessageOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Send a failed message again",
)
async def retry_message(session: SessionDep, principal: AdminPrincipal, message_id: MessageId) -> MessageView:
    """Put a `failed` message back to `pending` with a new retry period (after fixing what failed it); audited."""
    return await messages.retry_message(session, principal, message_id)


ACK: dict[int | str, dict[str, Any]] = {
    200: {"description": "Any 2xx acknowledges the delivery; anything else is retried for 24 h"}
}


@webhook_router.post("citizen.notify", summary="A message for the citizen (消息通知)", responses=ACK)
def citizen_notify(body: CitizenNotifyBody) -> None:
    """For requests your key submitted, when you subscribe to it: the receipt, a public reply, the resolution
    (with how the evaluation comes back) and a reopening, rendered for you to pass on (your app's push, your own
    SMS). Instead of our SMS: a request whose integration subscribes gets no SMS from us. Signed like every
    webhook (`X-Minqing-Signature`)."""


def register(app: FastAPI) -> None:
    """Add the endpoints and the `citizen.notify` webhook's documentation to the intake API."""
    app.include_router(router)
    app.webhooks.include_router(webhook_router)

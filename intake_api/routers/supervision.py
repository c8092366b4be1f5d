"""Supervision (督办): the supervisors' inbox, supervision orders and reminders, deadline extensions (延期申请)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from intake_api.deps import CurrentPrincipal
from services.supervision import service
from services.supervision.schemas import (
    ExtensionApprove,
    ExtensionCreate,
    ExtensionOut,
    ExtensionReject,
    InboxItem,
    InboxReason,
    InboxState,
    OrderOut,
    RemindIn,
    SuperviseIn,
    SupervisionOut,
)
from shared.deps import IfMatch, SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["supervision"])
RequestId = Annotated[int, Path(ge=1, le=2**62, description="The request's id")]
ExtensionId = Annotated[int, Path(ge=1, le=2**62, description="The extension application's id")]
ANSWERS = problem_responses(401, 403, 404, 409, 422)


@router.get(
    "/supervision",
    response_model=Page[InboxItem],
    summary="The supervisors' inbox",
    responses=problem_responses(401, 403, 422),
)
async def supervision_inbox(
    session: SessionDep,
    principal: CurrentPrincipal,
    state: Annotated[
        InboxState, Query(description="`open`: not resolved or closed yet (default); `all`: any status")
    ] = "open",
    reason: Annotated[
        InboxReason | None,
        Query(description="Only requests in the inbox for this reason (default: any of them)"),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[InboxItem]:
    """Requests in your subtree that are overdue (红牌), escalated, key-group matters (重点人群) or
    supervised (督办/催办 issued), newest first, with their deadlines, escalation level, lead unit,
    supervision orders and any pending extension. Supervisors, dispatchers and admins."""
    return await service.inbox(session, principal, state=state, reason=reason, cursor=cursor, limit=limit)


@router.get(
    "/requests/{request_id}/supervision",
    response_model=SupervisionOut,
    summary="A request's escalation and supervision orders",
    responses=problem_responses(401, 403, 404, 422),
)
async def request_supervision(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId
) -> SupervisionOut:
    """Where the request stands on the escalation ladder and the 督办 and 催办 issued on it (staff who can
    see the request, its handler included)."""
    return await service.request_supervision(session, principal, request_id)


@router.post(
    "/requests/{request_id}/supervise",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderOut,
    summary="Issue a supervision order (督办)",
    responses=ANSWERS,
)
async def supervise(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: SuperviseIn, if_match: IfMatch
) -> OrderOut:
    """A supervisor whose scope holds the open request orders its handling unit to resolve it by `due_by`.
    The order's deadline is its own: the request's `resolve_by` moves only by an approved extension.
    Logged in the trail (`supervised`) and announced by the `request.supervised` webhook (`kind: order`).
    `If-Match`: the request's version."""
    return await service.supervise(session, principal, request_id, body, if_match)


@router.post(
    "/requests/{request_id}/remind",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderOut,
    summary="Send a reminder (催办)",
    responses=ANSWERS,
)
async def remind(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: RemindIn, if_match: IfMatch
) -> OrderOut:
    """A supervisor whose scope holds the open request reminds its handling unit. Logged in the trail
    (`reminded`) and announced by the `request.supervised` webhook (`kind: reminder`). `If-Match`: the
    request's version."""
    return await service.remind(session, principal, request_id, body, if_match)


@router.post(
    "/requests/{request_id}/extensions",
    status_code=status.HTTP_201_CREATED,
    response_model=ExtensionOut,
    summary="Apply for a deadline extension (延期申请)",
    responses=ANSWERS,
)
async def apply_extension(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: ExtensionCreate, if_match: IfMatch
) -> ExtensionOut:
    """The request's handler (request accepted or suspended) asks for a later resolution deadline, with a
    reason. One application waits at a time; at most `handling.extensions_per_request` (default 2) are approved per request. `If-Match`: the
    request's version."""
    return await service.apply_extension(session, principal, request_id, body, if_match)


@router.get(
    "/requests/{request_id}/extensions",
    response_model=Page[ExtensionOut],
    summary="A request's extension applications",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_extensions(
    session: SessionDep,
    principal: CurrentPrincipal,
    request_id: RequestId,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ExtensionOut]:
    """The applications made for the request, newest first (staff who can see it)."""
    return await service.list_extensions(session, principal, request_id, cursor=cursor, limit=limit)


@router.post(
    "/requests/{request_id}/extensions/{extension_id}/approve",
    response_model=ExtensionOut,
    summary="Approve a deadline extension",
    responses=ANSWERS,
)
async def approve_extension(
    session: SessionDep,
    principal: CurrentPrincipal,
    request_id: RequestId,
    extension_id: ExtensionId,
    body: ExtensionApprove,
    if_match: IfMatch,
) -> ExtensionOut:
    """A dispatcher or supervisor whose scope holds the request approves: `resolve_by` moves to the proposed
    deadline (or to `resolve_by` given here), the warning time with it, and a yellow or red card the new
    deadline no longer earns is lifted. `If-Match`: the application's version."""
    return await service.approve_extension(session, principal, request_id, extension_id, body, if_match)


@router.post(
    "/requests/{request_id}/extensions/{extension_id}/reject",
    response_model=ExtensionOut,
    summary="Reject a deadline extension",
    responses=ANSWERS,
)
async def reject_extension(
    session: SessionDep,
    principal: CurrentPrincipal,
    request_id: RequestId,
    extension_id: ExtensionId,
    body: ExtensionReject,
    if_match: IfMatch,
) -> ExtensionOut:
    """A dispatcher or supervisor whose scope holds the request rejects, with a note; the deadline stays.
    `If-Match`: the application's version."""
    return await service.reject_extension(session, principal, request_id, extension_id, body, if_match)

"""The handler workflow on a request, and feedback from follow-up-call integrations."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from intake_api.deps import CurrentPrincipal
from services.handling import duplicates, service
from services.handling import joint as co_units
from services.handling.schemas import (
    AcceptIn,
    ClassifyIn,
    CoTaskAcceptIn,
    CoTaskReplyIn,
    CoTaskWaiveIn,
    EscalateIn,
    FeedbackIn,
    FeedbackOut,
    JointIn,
    LinkDuplicateIn,
    NoteIn,
    ReassignIn,
    ResolveIn,
    ResumeIn,
    ReturnIn,
    ReturnReviewIn,
    SuspendIn,
    UnlinkDuplicateIn,
)
from services.intake import service as intake
from services.intake.errors import RequestNotFound
from services.intake.schemas import RequestOut
from shared.auth import Principal, actor_of
from shared.deps import IfMatch, SessionDep
from shared.errors import Forbidden
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/requests", tags=["handling"])
RequestId = Annotated[int, Path(ge=1, le=2**62)]
TaskId = Annotated[int, Path(ge=1, le=2**62, description="The co-unit task's id (`co_tasks[].id` of the request)")]
ANSWERS = problem_responses(401, 403, 404, 409, 422)
Action = Callable[[AsyncSession, Principal, Any, Any], Awaitable[None]]


async def _act(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    name: str,
    action: Action,
    body: BaseModel,
    if_match: int | None,
) -> RequestOut:
    request = await service.load_for_action(session, principal, request_id, name, if_match)
    await action(session, principal, request, body)
    await session.flush()
    return await intake.request_out(session, principal, request)


@router.post("/{request_id}/accept", response_model=RequestOut, responses=ANSWERS)
async def accept(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: AcceptIn, if_match: IfMatch
) -> RequestOut:
    """Acknowledge the request (the response); a team or department member claims it from the queue."""
    return await _act(session, principal, request_id, "accept", service.accept, body, if_match)


@router.post("/{request_id}/return", response_model=RequestOut, responses=ANSWERS, summary="Return the request (退单)")
async def return_request(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: ReturnIn, if_match: IfMatch
) -> RequestOut:
    """Give the request back with a reason (`not_ours`, `wrong_location`, `wrong_category`) and optionally a
    proposed category or unit. It is re-routed without your unit (team or department), to the proposal when
    given; the second return goes to a dispatcher. When returns need review, the first one waits in
    `return_review` for a dispatcher (`POST …/return-review`)."""
    return await _act(session, principal, request_id, "return", service.return_request, body, if_match)


@router.post(
    "/{request_id}/return-review", response_model=RequestOut, responses=ANSWERS, summary="Review a return (退单审核)"
)
async def review_return(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: ReturnReviewIn, if_match: IfMatch
) -> RequestOut:
    """Dispatcher: `confirm` the return waiting for review (it takes effect: re-routed without the unit) or
    `reject` it (the request goes back to the unit, in the status it had)."""
    return await _act(session, principal, request_id, "review_return", service.review_return, body, if_match)


@router.post("/{request_id}/note", response_model=RequestOut, responses=ANSWERS)
async def note(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: NoteIn, if_match: IfMatch
) -> RequestOut:
    """Record progress; a public note is shown to the citizen."""
    return await _act(session, principal, request_id, "note", service.add_note, body, if_match)


@router.post("/{request_id}/suspend", response_model=RequestOut, responses=ANSWERS)
async def suspend(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: SuspendIn, if_match: IfMatch
) -> RequestOut:
    """Pause while waiting on the citizen; the SLA clock stops."""
    return await _act(session, principal, request_id, "suspend", service.suspend, body, if_match)


@router.post("/{request_id}/resume", response_model=RequestOut, responses=ANSWERS)
async def resume(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: ResumeIn, if_match: IfMatch
) -> RequestOut:
    """Resume work; the resolution deadline moves by the time suspended."""
    return await _act(session, principal, request_id, "resume", service.resume, body, if_match)


@router.post("/{request_id}/resolve", response_model=RequestOut, responses=ANSWERS)
async def resolve(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: ResolveIn, if_match: IfMatch
) -> RequestOut:
    """Report the outcome with a public reply; the citizen then evaluates it."""
    return await _act(session, principal, request_id, "resolve", service.resolve, body, if_match)


@router.post("/{request_id}/reassign", response_model=RequestOut, responses=ANSWERS)
async def reassign(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: ReassignIn, if_match: IfMatch
) -> RequestOut:
    """Dispatcher: hand the request to a named handler, grid team or department."""
    return await _act(session, principal, request_id, "reassign", service.reassign, body, if_match)


@router.post("/{request_id}/escalate", response_model=RequestOut, responses=ANSWERS)
async def escalate(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: EscalateIn, if_match: IfMatch
) -> RequestOut:
    """Ask the parent unit for help; logged on the request."""
    return await _act(session, principal, request_id, "escalate", service.escalate, body, if_match)


@router.post("/{request_id}/joint", response_model=RequestOut, responses=ANSWERS, summary="Add co-units (会办)")
async def joint(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: JointIn, if_match: IfMatch
) -> RequestOut:
    """Dispatcher: add co-handling departments and grid teams (民情会办); the lead stays responsible. Each
    co-unit gets a task of its own (`co_tasks`) with a reply deadline; the lead resolves once every co-unit
    has replied or been waived."""
    return await _act(session, principal, request_id, "joint", service.joint, body, if_match)


async def _co_act(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    task_id: int,
    name: str,
    action: Callable[[AsyncSession, Principal, Any, Any, Any], Awaitable[None]],
    body: BaseModel,
    if_match: int | None,
) -> RequestOut:
    request, task = await co_units.load_co_task(session, principal, request_id, task_id, name, if_match)
    await action(session, principal, request, task, body)
    await session.flush()
    return await intake.request_out(session, principal, request)


@router.post(
    "/{request_id}/co-tasks/{task_id}/accept",
    response_model=RequestOut,
    responses=ANSWERS,
    summary="Co-unit: accept its task",
)
async def accept_co_task(
    session: SessionDep,
    principal: CurrentPrincipal,
    request_id: RequestId,
    task_id: TaskId,
    body: CoTaskAcceptIn,
    if_match: IfMatch,
) -> RequestOut:
    """A member of the co-unit acknowledges its part of the joint request. `If-Match`: the request's version."""
    return await _co_act(session, principal, request_id, task_id, "accept", co_units.accept_co_task, body, if_match)


@router.post(
    "/{request_id}/co-tasks/{task_id}/reply",
    response_model=RequestOut,
    responses=ANSWERS,
    summary="Co-unit: reply on its part",
)
async def reply_co_task(
    session: SessionDep,
    principal: CurrentPrincipal,
    request_id: RequestId,
    task_id: TaskId,
    body: CoTaskReplyIn,
    if_match: IfMatch,
) -> RequestOut:
    """A member of the co-unit answers on its part (from `assigned` or `accepted`); a public reply shows in
    the citizen's tracking under the unit's name. `If-Match`: the request's version."""
    return await _co_act(session, principal, request_id, task_id, "reply", co_units.reply_co_task, body, if_match)


@router.post(
    "/{request_id}/co-tasks/{task_id}/waive",
    response_model=RequestOut,
    responses=ANSWERS,
    summary="Dispatcher: waive a co-unit's reply",
)
async def waive_co_task(
    session: SessionDep,
    principal: CurrentPrincipal,
    request_id: RequestId,
    task_id: TaskId,
    body: CoTaskWaiveIn,
    if_match: IfMatch,
) -> RequestOut:
    """Dispatcher: excuse the co-unit (with a reason); the lead no longer waits for its reply."""
    return await _co_act(session, principal, request_id, task_id, "waive", co_units.waive_co_task, body, if_match)


@router.post(
    "/{request_id}/link-duplicate",
    response_model=RequestOut,
    responses=ANSWERS,
    summary="Mark as a duplicate of another request",
)
async def link_duplicate(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: LinkDuplicateIn, if_match: IfMatch
) -> RequestOut:
    """A dispatcher in scope of both (or the handler of both) links this open request to `original_id` (to
    its root original if that is itself a duplicate): it follows the original's handling and closes with it.
    Both trails record it with the reason."""
    request = await duplicates.link(session, principal, request_id, body, if_match)
    await session.flush()
    return await intake.request_out(session, principal, request)


@router.post(
    "/{request_id}/unlink-duplicate",
    response_model=RequestOut,
    responses=ANSWERS,
    summary="Unlink a duplicate: route it as a new request",
)
async def unlink_duplicate(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: UnlinkDuplicateIn, if_match: IfMatch
) -> RequestOut:
    """A dispatcher in scope (or the original's handler) undoes a duplicate link: the request becomes
    `received` and is routed as a new request. Both trails record it with the reason."""
    request = await duplicates.unlink(session, principal, request_id, body, if_match)
    await session.flush()
    return await intake.request_out(session, principal, request)


@router.post("/{request_id}/classify", response_model=RequestOut, responses=ANSWERS)
async def classify(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: ClassifyIn, if_match: IfMatch
) -> RequestOut:
    """Dispatcher: set the category of an unclassified request; it re-routes."""
    return await _act(session, principal, request_id, "classify", service.classify, body, if_match)


@router.post("/{request_id}/feedback", response_model=FeedbackOut, responses=ANSWERS)
async def feedback(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, body: FeedbackIn
) -> FeedbackOut:
    """A follow-up-call agent records the citizen's evaluation of a request its key submitted (`feedback:create`)."""
    if principal.kind != "integration" or "feedback:create" not in principal.rights:
        raise Forbidden("Feedback is recorded by integrations with the feedback:create right, or by the citizen")
    request = await service.request_for_feedback(session, request_id)
    actor = actor_of(principal)
    if request.created_by != actor:
        # Integrations see only what they submitted (API1): another channel's request is as if absent.
        raise RequestNotFound(f"No request {request_id}")
    status, reopened = await service.record_feedback(session, request, body, actor)
    return FeedbackOut(request_id=request.id, resolution_no=request.resolution_no, status=status, reopened=reopened)

"""Duplicate review by staff: unlink a request wrongly marked duplicate (it is then routed as a new
request), or link two requests by hand. Both write an event into both trails.

Links never chain: a request is linked to the root original (if the one named is itself a duplicate, to
its original), and the duplicates of a request that becomes a duplicate move to the root with it.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.handling import auth
from services.handling.errors import NotADuplicateLink
from services.handling.joint import cancel_co_tasks
from services.handling.returns import supersede_pending_return
from services.handling.schemas import LinkDuplicateIn, UnlinkDuplicateIn
from services.handling.workflow import next_status
from services.intake import service as intake
from services.intake.errors import RequestNotFound
from services.lifecycle.changes import record_change, schedule_routing
from services.lifecycle.events import lock_chains
from services.models import Assignment, Request
from services.models.intake import OPEN_STATUSES
from services.routing.service import end_active_assignment
from shared.auth import Principal, actor_of
from shared.errors import Forbidden, InvalidInput, StaleVersion, field_error


async def _locked(session: AsyncSession, ids: list[int]) -> dict[int, Request]:
    """Lock the rows (in id order, as every trail writer does, so no deadlock) and read them afresh."""
    await lock_chains(session, ids)
    rows = await session.scalars(select(Request).where(Request.id.in_(ids)).execution_options(populate_existing=True))
    return {r.id: r for r in rows}


def _check_version(request: Request, if_match: int | None) -> None:
    if if_match is not None and if_match != request.version:
        raise StaleVersion(f"The request changed (version {request.version}, you sent {if_match}); read it again")


async def unlink(
    session: AsyncSession, principal: Principal, request_id: int, data: UnlinkDuplicateIn, if_match: int | None
) -> Request:
    """The duplicate becomes a request of its own (`received`), routed as a new one."""
    peek = await session.get(Request, request_id)
    if peek is None or not principal.is_staff:
        raise RequestNotFound(f"No request {request_id}")
    original_id = peek.duplicate_of_id
    rows = await _locked(session, [request_id] + ([original_id] if original_id is not None else []))
    request = rows[request_id]
    if not await intake.can_see(session, principal, request):
        raise RequestNotFound(f"No request {request_id}")
    to = next_status("unlink_duplicate", request.status)  # 409 unless it is a duplicate
    original = rows.get(request.duplicate_of_id) if request.duplicate_of_id is not None else None
    if original is None:
        raise NotADuplicateLink("The request is not linked to an original")
    if not auth.may_review_duplicates(principal, in_scope=[request, original], handled=[original]):
        raise Forbidden("Only a dispatcher in scope or the original's handler may unlink a duplicate")
    _check_version(request, if_match)
    actor = actor_of(principal)
    await end_active_assignment(session, request.id, "unlinked")
    request.duplicate_of_id = None
    request.handler_id = request.lead_team_id = request.lead_department_id = None
    request.co_department_ids = []
    request.accepted_at = None
    await record_change(
        session, request, "duplicate_unlinked", actor, to_status=to, note=data.reason, data={"original": original.id}
    )
    await record_change(
        session, original, "duplicate_unlinked", actor, note=data.reason, data={"duplicate": request.id}
    )
    schedule_routing(session, request)
    return request


async def link(
    session: AsyncSession, principal: Principal, request_id: int, data: LinkDuplicateIn, if_match: int | None
) -> Request:
    """Mark the request a duplicate of `data.original_id` (its root): it follows the original's handling and
    closes with it; its own duplicates move to the root too."""
    if data.original_id == request_id:
        raise InvalidInput(
            "A request cannot duplicate itself", errors=[field_error("original_id", "the request itself")]
        )
    peek = await session.get(Request, request_id)
    named = await session.get(Request, data.original_id)
    if peek is None or not principal.is_staff:
        raise RequestNotFound(f"No request {request_id}")
    no_original = InvalidInput(
        f"No request {data.original_id} in your scope", errors=[field_error("original_id", "unknown request")]
    )
    if named is None:
        raise no_original
    root_id = named.duplicate_of_id or named.id
    followers = list(
        await session.scalars(select(Request.id).where(Request.duplicate_of_id == request_id, Request.id != root_id))
    )
    rows = await _locked(session, [request_id, root_id, *followers])
    request, root = rows[request_id], rows.get(root_id)
    if not await intake.can_see(session, principal, request):
        raise RequestNotFound(f"No request {request_id}")
    if root is None or not await intake.can_see(session, principal, root):
        raise no_original
    if root.id == request.id or root.duplicate_of_id is not None:
        raise NotADuplicateLink(
            f"Request {data.original_id} is a duplicate of this one; unlink it first",
            errors=[field_error("original_id", "a duplicate of this request")],
        )
    if not auth.may_review_duplicates(principal, in_scope=[request, root], handled=[request, root]):
        raise Forbidden("Only a dispatcher in scope of both, or the handler of both, may link them")
    _check_version(request, if_match)
    to = next_status("link_duplicate", request.status)
    if root.status not in OPEN_STATUSES:
        raise NotADuplicateLink(
            f"Request {root.id} is {root.status}: only an open request can be an original",
            errors=[field_error("original_id", f"{root.status}, not open")],
        )
    actor = actor_of(principal)
    superseded = await supersede_pending_return(session, request, actor)
    cancelled = await cancel_co_tasks(session, request)
    await end_active_assignment(session, request.id, "duplicate")
    _follow(session, request, root, actor)
    detail: dict[str, Any] = {"original": root.id}
    if root.id != data.original_id:
        detail["named"] = data.original_id
    if cancelled:
        detail["co_tasks_cancelled"] = cancelled
    if superseded is not None:
        detail["return_superseded"] = superseded
    await record_change(session, request, "duplicate_linked", actor, to_status=to, note=data.reason, data=detail)
    await record_change(session, root, "duplicate_linked", actor, note=data.reason, data={"duplicate": request.id})
    for follower in (rows[i] for i in followers if i in rows):
        if follower.duplicate_of_id != request.id:
            continue
        await end_active_assignment(session, follower.id, "duplicate")
        _follow(session, follower, root, actor)
        await record_change(
            session,
            follower,
            "duplicate_linked",
            actor,
            note=data.reason,
            data={"original": root.id, "was_duplicate_of": request.id},
        )
    return request


def _follow(session: AsyncSession, duplicate: Request, root: Request, actor: str) -> None:
    """The duplicate takes the root's handling (as routing does for one found at intake); if the root is
    not routed yet, routing hands its decision on when it routes the root."""
    duplicate.duplicate_of_id = root.id
    duplicate.lead_team_id, duplicate.lead_department_id = root.lead_team_id, root.lead_department_id
    duplicate.handler_id = root.handler_id
    duplicate.co_department_ids = list(root.co_department_ids)
    duplicate.accepted_at = None
    if root.routing_no == 0:
        return
    duplicate.unit_path = root.unit_path
    duplicate.routing_no += 1
    session.add(
        Assignment(
            request_id=duplicate.id,
            routing_no=duplicate.routing_no,
            outcome="assigned",
            team_id=root.lead_team_id,
            department_id=root.lead_department_id,
            co_department_ids=list(root.co_department_ids),
            handler_id=root.handler_id,
            unit_id=root.org_unit_id,
            reason={"duplicate_of": root.id, "by": actor, "linked_at": datetime.now(UTC).isoformat()},
        )
    )

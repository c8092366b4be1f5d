"""Returns (退单) and their review (退单审核).

A unit gives a request back with a reason (`not_ours`, `wrong_location`, `wrong_category`) and, if it
knows, a proposal (a category, a grid team or a department). The return excludes the *unit* (the grid
team or the department, not just the handler) from every later routing of the request; the re-route
takes the proposal when there is one (a proposed category changes the category and its deadlines, as
classifying does). Past the rule setting `handling.returns_before_dispatch` (default 1) a return goes to a
dispatcher.

When returns need review (`return_review_required`), the first return does not take effect at once:
the request waits in `return_review` (still with its unit) until a dispatcher confirms it (the return
then takes effect) or rejects it (back to the unit, in the status it had).
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.config import service as config
from services.handling.errors import IllegalTransition, ReturnPending
from services.handling.joint import cancel_co_tasks
from services.handling.schemas import ReturnIn, ReturnReviewIn
from services.handling.workflow import next_status
from services.lifecycle.changes import record_change, schedule_routing
from services.models import Assignment, Category, Department, OrgUnit, Request, RequestReturn, Team
from services.routing.geodata import district_path
from services.routing.service import end_active_assignment
from services.sla import service as sla
from services.sla.policy import deadlines, pick_policy
from shared.auth import Principal, actor_of
from shared.errors import InvalidInput, field_error


async def return_review_required(session: AsyncSession, request: Request) -> bool:
    """Whether this request's next return needs a dispatcher's review first (rule setting
    `handling.return_review_required`; the one place that reads it)."""
    return (await config.current(session)).handling.return_review_required


async def returns_before_dispatch(session: AsyncSession) -> int:
    """How many returns re-route by themselves; the next one goes to a dispatcher (`handling.returns_before_dispatch`)."""
    return (await config.current(session)).handling.returns_before_dispatch


async def return_request(session: AsyncSession, principal: Principal, request: Request, data: ReturnIn) -> None:
    """Give the request back: re-routed without this unit (or, the second time, to a dispatcher); with review
    required, the first return waits for a dispatcher's decision."""
    next_status("return", request.status)
    await _check_proposal(session, request, data)
    actor = actor_of(principal)
    review = request.return_count == 0 and await return_review_required(session, request)
    record = RequestReturn(
        request_id=request.id,
        routing_no=request.routing_no,
        reason=data.reason,
        note=data.note,
        proposed_category=data.proposed_category,
        proposed_team_id=data.proposed_team_id,
        proposed_department_id=data.proposed_department_id,
        team_id=request.lead_team_id,
        department_id=request.lead_department_id,
        handler_id=request.handler_id,
        from_status=request.status,
        returned_by=actor,
        status="pending" if review else "applied",
    )
    session.add(record)
    await session.flush()
    if review:
        to = next_status("return_for_review", request.status)
        await record_change(
            session, request, "return_requested", actor, to_status=to, note=data.note, data=_described(record)
        )
        return
    record.decided_at = datetime.now(UTC)
    await _apply(session, request, record, actor, kind="returned", note=data.note)


async def review_return(session: AsyncSession, principal: Principal, request: Request, data: ReturnReviewIn) -> None:
    """A dispatcher's review: `confirm` applies the return, `reject` gives the request back to its unit."""
    next_status("review_return", request.status)
    record = await pending_return(session, request.id)
    if record is None:
        raise IllegalTransition("No return of this request waits for review")
    actor = actor_of(principal)
    record.decided_at = datetime.now(UTC)
    record.decided_by = actor
    record.decision_note = data.note
    if data.decision == "confirm":
        record.status = "applied"
        await _apply(session, request, record, actor, kind="return_confirmed", note=data.note)
        return
    record.status = "rejected"
    await record_change(
        session,
        request,
        "return_rejected",
        actor,
        to_status=record.from_status,
        note=data.note,
        data={"return_id": record.id, "reason": record.reason},
    )


async def pending_return(session: AsyncSession, request_id: int) -> RequestReturn | None:
    found: RequestReturn | None = await session.scalar(
        select(RequestReturn)
        .where(RequestReturn.request_id == request_id, RequestReturn.status == "pending")
        .with_for_update()
    )
    return found


async def supersede_pending_return(session: AsyncSession, request: Request, actor: str) -> int | None:
    """A dispatcher who reassigns or links a request under review decides for the reviewer; the id of the
    return superseded, if one was pending."""
    record = await pending_return(session, request.id)
    if record is None:
        return None
    record.status = "superseded"
    record.decided_at = datetime.now(UTC)
    record.decided_by = actor
    return record.id


def _described(record: RequestReturn) -> dict[str, Any]:
    """The return as its events describe it."""
    proposal = {
        "category": record.proposed_category,
        "team_id": record.proposed_team_id,
        "department_id": record.proposed_department_id,
    }
    return {
        "return_id": record.id,
        "reason": record.reason,
        "proposal": {k: v for k, v in proposal.items() if v is not None},
        "returned_by": record.handler_id,
        "team_id": record.team_id,
        "department_id": record.department_id,
    }


async def _apply(
    session: AsyncSession, request: Request, record: RequestReturn, actor: str, *, kind: str, note: str | None
) -> None:
    """The return takes effect: the unit's assignment ends as returned (so routing excludes the unit), the
    joint set ends, and the request is re-routed (the proposal first), or past the limit goes to a dispatcher."""
    await session.execute(
        update(Assignment)
        .where(Assignment.request_id == request.id, Assignment.active.is_(True))
        .values(handler_id=record.handler_id, end_reason="returned")
    )
    await end_active_assignment(session, request.id, "returned")
    request.return_count += 1
    cancelled = await cancel_co_tasks(session, request)
    request.handler_id = request.lead_team_id = request.lead_department_id = None
    request.co_department_ids = []
    request.accepted_at = None
    data = {**_described(record), "return_count": request.return_count}
    if cancelled:
        data["co_tasks_cancelled"] = cancelled
    if record.proposed_category is not None and record.proposed_category != request.category_code:
        data["category_before"] = request.category_code
        await recategorise(session, request, record.proposed_category)
    if request.return_count > await returns_before_dispatch(session):
        request.unit_path = district_path(request.unit_path)
        await record_change(session, request, kind, actor, to_status="needs_dispatch", note=note, data=data)
        return
    await record_change(session, request, kind, actor, to_status="received", note=note, data=data)
    schedule_routing(session, request)


async def recategorise(session: AsyncSession, request: Request, code: str) -> None:
    """The request takes category `code` (active, checked by the caller) with its priority and deadlines, as
    at intake: key-group categories are `high`; the deadlines count from when it was received."""
    category = await session.scalar(select(Category).where(Category.code == code))
    if category is None:
        raise InvalidInput("Unknown category", errors=[field_error("category", "unknown category")])
    request.category_code = category.code
    if category.key_group and request.priority == "normal":
        request.priority = "high"
    terms = pick_policy(await sla.policies(session), category.code, request.priority)
    due = deadlines(await sla.calendar(session), terms, request.received_at)
    request.sla_policy_id = terms.id
    request.respond_by, request.resolve_by = due.respond_by, due.resolve_by
    request.respond_warn_at, request.resolve_warn_at = due.respond_warn_at, due.resolve_warn_at


async def _check_proposal(session: AsyncSession, request: Request, data: ReturnIn) -> None:
    """A proposal names an active category other than `unknown`, or an existing unit other than the one
    returning it (a department must serve the request's area); else 422 naming the field."""
    if await pending_return(session, request.id) is not None:
        raise ReturnPending("A return of this request already waits for review")
    if data.proposed_team_id is not None and data.proposed_department_id is not None:
        raise InvalidInput(
            "Propose one unit",
            errors=[field_error("proposed_department_id", "propose a team or a department, not both")],
        )
    if data.reason == "wrong_category" and data.proposed_category is None and data.proposed_unit is None:
        raise InvalidInput(
            "A wrong category needs a proposal",
            errors=[field_error("proposed_category", "give the right category (or a proposed unit)")],
        )
    if data.proposed_category is not None:
        category = await session.scalar(
            select(Category).where(Category.code == data.proposed_category, Category.active.is_(True))
        )
        if category is None or category.code == "unknown":
            raise InvalidInput("Unknown category", errors=[field_error("proposed_category", "not an active category")])
        if category.code == request.category_code and data.proposed_unit is None:
            raise InvalidInput(
                "The request already has this category",
                errors=[field_error("proposed_category", "the request's category already")],
            )
    if data.proposed_team_id is not None:
        team = await session.get(Team, data.proposed_team_id)
        if team is None:
            raise InvalidInput("No such team", errors=[field_error("proposed_team_id", "unknown team")])
        if team.id == request.lead_team_id:
            raise InvalidInput(
                "A unit cannot propose itself", errors=[field_error("proposed_team_id", "the returning unit")]
            )
    if data.proposed_department_id is not None:
        department = await session.get(Department, data.proposed_department_id)
        scope = await session.get(OrgUnit, department.scope_unit_id) if department else None
        if department is None or not department.active or scope is None:
            raise InvalidInput(
                "No such department", errors=[field_error("proposed_department_id", "unknown department")]
            )
        if department.id == request.lead_department_id:
            raise InvalidInput(
                "A unit cannot propose itself",
                errors=[field_error("proposed_department_id", "the returning unit")],
            )
        if not request.unit_path.startswith(scope.path):
            raise InvalidInput(
                "The department does not serve the request's area",
                errors=[field_error("proposed_department_id", "outside the department's area")],
            )

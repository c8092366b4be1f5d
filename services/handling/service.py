"""The handler workflow (accept, return, note, suspend, resume, resolve, reassign, escalate, joint,
classify) and the citizen's feedback (民情反馈/评议). Takes the session, never commits.

Returns and their review live in `returns.py`, joint handling (co-unit tasks) in `joint.py`, duplicate
review in `duplicates.py`; `return_request`, `review_return` and `joint` are re-exported here."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.handling import auth
from services.handling.errors import AlreadyClassified, AlreadyEvaluated, NotYetResolved
from services.handling.joint import cancel_co_task_of_lead, check_co_tasks_done
from services.handling.joint import joint as joint
from services.handling.returns import recategorise, supersede_pending_return
from services.handling.returns import return_request as return_request
from services.handling.returns import review_return as review_return
from services.handling.schemas import (
    AcceptIn,
    ClassifyIn,
    EscalateIn,
    FeedbackIn,
    NoteIn,
    ReassignIn,
    ResolveIn,
    ResumeIn,
    SuspendIn,
)
from services.handling.workflow import next_status
from services.intake import service as intake
from services.intake.errors import RequestNotFound
from services.lifecycle import escalation
from services.lifecycle.changes import close_duplicates, record_change, schedule_routing
from services.models import Assignment, Category, Department, Feedback, Member, OrgUnit, Request, SlaPolicy, Team
from services.org import repository as org_repo
from services.routing.service import end_active_assignment
from services.sla import service as sla
from services.sla.policy import BUILT_IN_GENERAL, PolicyTerms, deadlines, warning_time
from shared.auth import Principal, actor_of
from shared.errors import Forbidden, InvalidInput, StaleVersion, field_error
from shared.schemas import local_iso


async def _is_member(session: AsyncSession, principal: Principal, request: Request) -> bool:
    """Whether the caller belongs to the request's lead team or lead department (queue claims)."""
    if request.lead_team_id is None and request.lead_department_id is None:
        return False
    home = (
        Member.team_id == request.lead_team_id
        if request.lead_team_id is not None
        else Member.department_id == request.lead_department_id
    )
    return await session.scalar(select(Member.id).where(Member.staff_id == principal.id, home)) is not None


async def load_for_action(
    session: AsyncSession, principal: Principal, request_id: int, action: str, if_match: int | None
) -> Request:
    """Lock the request and check the caller may take `action` on it: its handler, or a dispatcher in scope."""
    request = await session.get(Request, request_id, with_for_update=True, populate_existing=True)
    if request is None or not principal.is_staff:
        raise RequestNotFound(f"No request {request_id}")
    is_lead_member = auth.needs_membership_check(principal, request) and await _is_member(session, principal, request)
    try:
        auth.check_may_act(principal, request, action, auth.standing(principal, request, is_lead_member=is_lead_member))
    except RequestNotFound:
        # A co-unit's member sees the request (and works on its own task) but does not act for the lead.
        if await intake.can_see(session, principal, request):
            raise Forbidden("Only the request's handler or a dispatcher in scope may do this") from None
        raise
    if if_match is not None and if_match != request.version:
        raise StaleVersion(f"The request changed (version {request.version}, you sent {if_match}); read it again")
    return request


async def _terms(session: AsyncSession, request: Request) -> PolicyTerms:
    if request.sla_policy_id is not None:
        policy = await session.get(SlaPolicy, request.sla_policy_id)
        if policy is not None:
            return PolicyTerms(
                policy.id,
                policy.category_prefix,
                policy.priority,
                policy.respond_amount,
                policy.respond_unit,
                policy.resolve_amount,
                policy.resolve_unit,
            )
    return BUILT_IN_GENERAL


async def accept(session: AsyncSession, principal: Principal, request: Request, data: AcceptIn) -> None:
    to = next_status("accept", request.status)
    now = datetime.now(UTC)
    if auth.claims_from_queue(principal, request):
        request.handler_id = principal.id  # claimed from the team or department queue
        await session.execute(
            update(Assignment)
            .where(Assignment.request_id == request.id, Assignment.active.is_(True))
            .values(handler_id=principal.id)
        )
    request.accepted_at = now
    # The response phase is over: the standing now follows the resolution deadline.
    request.sla_state = "ok" if request.resolve_warn_at is None or now < request.resolve_warn_at else "warning"
    if now > request.resolve_by:
        request.sla_state = "overdue"
    on_time = now <= request.respond_by
    await record_change(
        session, request, "accepted", actor_of(principal), to_status=to, note=data.note, data={"on_time": on_time}
    )


async def add_note(session: AsyncSession, principal: Principal, request: Request, data: NoteIn) -> None:
    next_status("note", request.status)
    await record_change(session, request, "note", actor_of(principal), note=data.text, public=data.public)


async def suspend(session: AsyncSession, principal: Principal, request: Request, data: SuspendIn) -> None:
    to = next_status("suspend", request.status)
    request.suspended_at = datetime.now(UTC)
    await record_change(session, request, "suspended", actor_of(principal), to_status=to, note=data.reason, public=True)


async def resume(session: AsyncSession, principal: Principal, request: Request, data: ResumeIn) -> None:
    """Back to work; the time suspended does not count, so the resolution deadline moves by it."""
    to = next_status("resume", request.status)
    now = datetime.now(UTC)
    paused_from = request.suspended_at or now
    calendar = await sla.calendar(session)
    terms = await _terms(session, request)
    old = request.resolve_by
    request.resolve_by = calendar.shift_for_pause(request.resolve_by, paused_from, now, terms.resolve_unit)
    request.resolve_warn_at = warning_time(calendar, request.received_at, request.resolve_by, terms.resolve_unit)
    request.suspended_at = None
    await record_change(
        session,
        request,
        "resumed",
        actor_of(principal),
        to_status=to,
        note=data.note,
        data={"resolve_by_before": local_iso(old), "resolve_by": local_iso(request.resolve_by)},
    )


async def resolve(session: AsyncSession, principal: Principal, request: Request, data: ResolveIn) -> None:
    """The lead reports the outcome; with a joint request, only once every co-unit replied or was waived."""
    to = next_status("resolve", request.status)
    await check_co_tasks_done(session, request)
    now = datetime.now(UTC)
    request.resolved_at = now
    request.outcome = data.outcome
    request.public_reply = data.reply
    request.resolution_no += 1
    await record_change(
        session,
        request,
        "resolved",
        actor_of(principal),
        to_status=to,
        note=data.reply,
        public=True,
        data={"outcome": data.outcome, "on_time": now <= request.resolve_by, "resolution_no": request.resolution_no},
    )


async def reassign(session: AsyncSession, principal: Principal, request: Request, data: ReassignIn) -> None:
    """A dispatcher names the handler, grid team or department; it becomes a new assignment."""
    to = next_status("reassign", request.status)
    team_id = department_id = handler_id = None
    unit_path = request.unit_path
    if data.handler_id is not None:
        member = (
            await session.execute(select(Member).where(Member.staff_id == data.handler_id).order_by(Member.id).limit(1))
        ).scalar_one_or_none()
        if member is None:
            raise InvalidInput(
                "No such handler", errors=[field_error("handler_id", "not a member of a team or department")]
            )
        handler_id, team_id, department_id = data.handler_id, member.team_id, member.department_id
    elif data.team_id is not None:
        team_id = data.team_id
    else:
        department = await org_repo.department_by_code(session, data.department_code or "")
        if department is None:
            raise InvalidInput("No such department", errors=[field_error("department_code", "unknown department")])
        department_id = department.id
    if team_id is not None:
        team = await session.get(Team, team_id)
        grid = await session.get(OrgUnit, team.grid_unit_id) if team else None
        if team is None or grid is None or not principal.covers(grid.path):
            raise InvalidInput("No such team in your scope", errors=[field_error("team_id", "unknown team")])
        unit_path = grid.path
    if department_id is not None and handler_id is None:
        department = await session.get(Department, department_id)
        scope = await session.get(OrgUnit, department.scope_unit_id) if department else None
        if scope is None or not request.unit_path.startswith(scope.path):
            raise InvalidInput("No such department", errors=[field_error("department_code", "unknown department")])
    request.routing_no += 1
    await end_active_assignment(session, request.id, "reassigned")
    session.add(
        Assignment(
            request_id=request.id,
            routing_no=request.routing_no,
            outcome="assigned",
            team_id=team_id,
            department_id=department_id,
            handler_id=handler_id,
            unit_id=request.org_unit_id,
            reason={"by": actor_of(principal), "reassigned": True},
        )
    )
    request.handler_id, request.lead_team_id, request.lead_department_id = handler_id, team_id, department_id
    request.unit_path = unit_path
    request.accepted_at = None
    detail: dict[str, Any] = {"handler_id": handler_id, "team_id": team_id, "department_id": department_id}
    # The new lead is no longer its own co-unit; a return under review is decided by this reassignment.
    cancelled = await cancel_co_task_of_lead(session, request)
    if cancelled is not None:
        detail["co_task_cancelled"] = cancelled
    superseded = await supersede_pending_return(session, request, actor_of(principal))
    if superseded is not None:
        detail["return_superseded"] = superseded
    await record_change(session, request, "reassigned", actor_of(principal), to_status=to, note=data.note, data=detail)


async def escalate(session: AsyncSession, principal: Principal, request: Request, data: EscalateIn) -> None:
    """One level up the org tree, as the SLA clock escalates (services/lifecycle/escalation.py)."""
    next_status("escalate", request.status)
    await escalation.escalate(session, request, actor_of(principal), reason="manual", note=data.note)


def _parent_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:-1]) + "/" if len(parts) > 1 else path


async def classify(session: AsyncSession, principal: Principal, request: Request, data: ClassifyIn) -> None:
    """A dispatcher classifies an `unknown` request; its deadlines follow the new category, and it re-routes."""
    if request.category_code != "unknown":
        raise AlreadyClassified("Only unclassified (`unknown`) requests are classified")
    to = next_status("classify", request.status)
    category = await session.scalar(select(Category).where(Category.code == data.category, Category.active.is_(True)))
    if category is None or category.code == "unknown":
        raise InvalidInput("Unknown category", errors=[field_error("category", "unknown category")])
    await recategorise(session, request, category.code)
    await record_change(
        session, request, "classified", actor_of(principal), to_status=to, data={"category": category.code}
    )
    schedule_routing(session, request)


# ---- feedback ---------------------------------------------------------------------------------


async def record_feedback(session: AsyncSession, request: Request, data: FeedbackIn, actor: str) -> tuple[str, bool]:
    """One evaluation per resolution. A negative one reopens to the same handler once (重办); a second
    negative one closes the request against the unit. Answers (new status, reopened)."""
    if request.status != "resolved":
        raise NotYetResolved(f"Only a resolved request can be evaluated (it is {request.status})")
    exists = await session.scalar(
        select(Feedback.id).where(Feedback.request_id == request.id, Feedback.resolution_no == request.resolution_no)
    )
    if exists is not None:
        raise AlreadyEvaluated("This resolution has already been evaluated")
    session.add(
        Feedback(
            request_id=request.id,
            resolution_no=request.resolution_no,
            resolved=data.resolved,
            satisfaction=data.satisfaction,
            comment=data.comment,
            source=actor,
            team_id=request.lead_team_id,
            department_id=request.lead_department_id,
            handler_id=request.handler_id,
        )
    )
    negative = not data.resolved or data.satisfaction == "dissatisfied"
    detail: dict[str, Any] = {
        "resolved": data.resolved,
        "satisfaction": data.satisfaction,
        "resolution_no": request.resolution_no,
    }
    if negative and request.reopen_count == 0:
        await _reopen(session, request, actor, detail)
        return request.status, True
    request.closed_at = datetime.now(UTC)
    request.close_reason = "unsatisfied" if negative else "satisfied"
    await record_change(session, request, "closed", actor, to_status="closed", data=detail)
    await close_duplicates(session, request)
    return request.status, False


async def _reopen(session: AsyncSession, request: Request, actor: str, detail: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    terms = await _terms(session, request)
    due = deadlines(await sla.calendar(session), terms, now)
    request.reopen_count += 1
    request.respond_by, request.resolve_by = due.respond_by, due.resolve_by
    request.respond_warn_at, request.resolve_warn_at = due.respond_warn_at, due.resolve_warn_at
    request.sla_state = "ok"
    request.accepted_at = request.resolved_at = None
    await record_change(session, request, "reopened", actor, to_status="assigned", data=detail)


async def request_for_feedback(session: AsyncSession, request_id: int) -> Request:
    request = await session.get(Request, request_id, with_for_update=True, populate_existing=True)
    if request is None:
        raise RequestNotFound(f"No request {request_id}")
    return request

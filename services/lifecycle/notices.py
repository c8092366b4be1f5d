"""The `request.*` supervision webhooks (`request.sla_warning`, `request.sla_overdue`, `request.escalated`,
`request.supervised`): one body shape, built from the request as it stands after the change.

Like `request.status_changed`, they go to the integration that submitted the request (a hotline that took
the call follows its request to the end) and to no one else: a request submitted by staff has no
subscriber. Staff learn of them from the supervisors' inbox (`GET /v1/supervision`).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Escalation, Request
from services.webhooks.service import emit
from shared.schemas import local_iso

# Which deadline is running: the response's until the request is accepted, then the resolution's. A
# request waiting for a return's review (退单审核) stays on the clock it was on.
# Written with its constants inline (not bound parameters), so that the expression is the very one indexed by
# migration 0018 (`ix_requests_status_deadline`, `ix_requests_standing_deadline`) and any plan can use them.
RESPONSE_PHASE = ("received", "assigned", "needs_dispatch")
IN_RESPONSE_PHASE: ColumnElement[bool] = or_(
    Request.status.in_([literal_column(f"'{s}'") for s in RESPONSE_PHASE]),
    and_(Request.status == literal_column("'return_review'"), Request.accepted_at.is_(None)),
)
# `deadline_of` in SQL: for sorting by due date and for the SLA sweep.
DEADLINE = case((IN_RESPONSE_PHASE, Request.respond_by), else_=Request.resolve_by)


def phase_of(request: Request) -> str:
    """Which deadline is running (as `IN_RESPONSE_PHASE` says in SQL)."""
    if request.status == "return_review":
        return "response" if request.accepted_at is None else "resolution"
    return "response" if request.status in RESPONSE_PHASE else "resolution"


def deadline_of(request: Request) -> datetime:
    return request.respond_by if phase_of(request) == "response" else request.resolve_by


def webhook_actor(request: Request) -> str:
    """Whom a request's webhooks (status changes, supervision) are for, as `emit` reads it: `key:<id>` (the
    integration that submitted it) sends to that key's subscriptions; any other creator (`staff:<id>`: a
    window clerk, a grid worker) to nobody, so one integration never hears of requests it did not submit."""
    return request.created_by


async def escalation_level(session: AsyncSession, request_id: int) -> int:
    level = await session.scalar(select(Escalation.level).where(Escalation.request_id == request_id))
    return int(level or 0)


async def emit_request_event(
    session: AsyncSession,
    event_type: str,
    request: Request,
    *,
    from_status: str | None = None,
    level: int | None = None,
    **fields: Any,
) -> int:
    """Owe `event_type` about `request` (after its change was recorded, so `version` is the new one)."""
    if level is None:
        level = await escalation_level(session, request.id)
    body: dict[str, Any] = {
        "request_id": request.id,
        "version": request.version,
        "from": from_status or request.status,
        "to": request.status,
        "tracking_no": request.tracking_no,
        "external_id": request.external_id,
        "sla_state": request.sla_state,
        "phase": phase_of(request),
        "deadline": local_iso(deadline_of(request)),
        "escalation_level": level,
        "unit": {
            "unit_path": request.unit_path,
            "lead_team_id": request.lead_team_id,
            "lead_department_id": request.lead_department_id,
        },
        **fields,
    }
    return await emit(session, event_type, body, for_actor=webhook_actor(request))

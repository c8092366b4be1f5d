"""The SLA sweep: yellow cards (warning at 80%), red cards (overdue, escalated), and closing unevaluated requests."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.lifecycle.changes import close_duplicates, record_change
from services.models import OrgUnit, Request, StaffAccount
from shared.schemas import local_iso

SWEEPER = "system:sla"
BATCH = 500
NO_EVALUATION_AFTER = timedelta(days=7)
WAITING_RESPONSE = ("received", "assigned", "needs_dispatch")


def _parent_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:-1]) + "/" if len(parts) > 1 else path


async def sweep(session: AsyncSession, now: datetime | None = None) -> dict[str, int]:
    """One pass; rows are claimed with SKIP LOCKED so several workers may sweep at once."""
    now = now or datetime.now(UTC)
    counts = {"warning": 0, "overdue": 0, "closed_no_evaluation": 0}
    in_response = Request.status.in_(WAITING_RESPONSE)
    in_resolution = Request.status == "accepted"
    overdue = await session.scalars(
        select(Request)
        .where(
            Request.sla_state != "overdue",
            or_(and_(in_response, Request.respond_by < now), and_(in_resolution, Request.resolve_by < now)),
        )
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    for request in overdue:
        await _overdue(session, request)
        counts["overdue"] += 1
    warned = await session.scalars(
        select(Request)
        .where(
            Request.sla_state == "ok",
            or_(
                and_(in_response, Request.respond_warn_at <= now),
                and_(in_resolution, Request.resolve_warn_at <= now),
            ),
        )
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    for request in warned:
        request.sla_state = "warning"
        deadline = request.resolve_by if request.status == "accepted" else request.respond_by
        await record_change(session, request, "sla_warning", SWEEPER, data={"deadline": local_iso(deadline)})
        counts["warning"] += 1
    stale = await session.scalars(
        select(Request)
        .where(Request.status == "resolved", Request.resolved_at <= now - NO_EVALUATION_AFTER)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    for request in stale:
        request.closed_at = now
        request.close_reason = "no_evaluation"
        await record_change(session, request, "closed", SWEEPER, to_status="closed", data={"no_evaluation": True})
        await close_duplicates(session, request)
        counts["closed_no_evaluation"] += 1
    return counts


async def _overdue(session: AsyncSession, request: Request) -> None:
    """红牌: escalate to the supervisors of the parent unit of where the request is handled."""
    request.sla_state = "overdue"
    request.escalated_at = request.escalated_at or datetime.now(UTC)
    parent = _parent_path(request.unit_path)
    supervisors = list(
        await session.scalars(
            select(StaffAccount.id)
            .join(OrgUnit, OrgUnit.id == StaffAccount.scope_unit_id)
            .where(StaffAccount.role == "supervisor", StaffAccount.active.is_(True), OrgUnit.path == parent)
        )
    )
    phase = "resolution" if request.status == "accepted" else "response"
    await record_change(
        session,
        request,
        "sla_overdue",
        SWEEPER,
        data={"phase": phase, "escalated_to": parent, "supervisor_ids": supervisors},
    )

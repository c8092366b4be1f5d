"""The SLA clock: yellow cards (warning at 80%), red cards (overdue: escalated one level), timed climbs
up the org tree while a request stays overdue, and closing unevaluated requests.

`sweep` turns cards and closes; `climb` takes the timed escalation steps; `sla_clock` (the routing worker's
cron) runs both in one unit of work. Every function takes `now`, so tests drive them on a fake clock.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.config import service as config
from services.lifecycle import escalation
from services.lifecycle.changes import close_duplicates, record_change
from services.lifecycle.notices import IN_RESPONSE_PHASE, RESPONSE_PHASE, deadline_of, emit_request_event, phase_of
from services.models import Escalation, Request
from shared.schemas import local_iso

SWEEPER = "system:sla"
BATCH = 500
# Open and on the clock: a suspended request (waiting on the citizen) does not climb.
CLIMBING = (*RESPONSE_PHASE, "accepted", "return_review")


async def sweep(session: AsyncSession, now: datetime | None = None) -> dict[str, int]:
    """One pass; rows are claimed with SKIP LOCKED so several workers may sweep at once."""
    now = now or datetime.now(UTC)
    counts = {"warning": 0, "overdue": 0, "closed_no_evaluation": 0}
    in_response = IN_RESPONSE_PHASE
    in_resolution = or_(
        Request.status == "accepted", and_(Request.status == "return_review", Request.accepted_at.is_not(None))
    )
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
        await _overdue(session, request, now)
        counts["overdue"] += 1
    # The sessions do not autoflush: write the red cards before looking for yellow ones (a request past
    # both its warning time and its deadline is red, not yellow).
    await session.flush()
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
        if request.sla_state != "ok":
            continue
        request.sla_state = "warning"
        deadline = deadline_of(request)
        await record_change(
            session, request, "sla_warning", SWEEPER, data={"phase": phase_of(request), "deadline": local_iso(deadline)}
        )
        await emit_request_event(session, "request.sla_warning", request)
        counts["warning"] += 1
    # The rule settings' `feedback.no_evaluation_close_days` (7 by default).
    no_evaluation_after = timedelta(days=(await config.current(session)).feedback.no_evaluation_close_days)
    stale = await session.scalars(
        select(Request)
        .where(Request.status == "resolved", Request.resolved_at <= now - no_evaluation_after)
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


async def _overdue(session: AsyncSession, request: Request, now: datetime) -> None:
    """红牌: logged, announced, and escalated one level (to the parent unit's supervisors at first)."""
    request.sla_state = "overdue"
    step = await escalation.plan(session, request)
    phase = phase_of(request)
    await record_change(
        session,
        request,
        "sla_overdue",
        SWEEPER,
        data={
            "phase": phase,
            "deadline": local_iso(deadline_of(request)),
            "escalated_to": step.to_path,
            "supervisor_ids": step.supervisor_ids,
        },
    )
    await emit_request_event(session, "request.sla_overdue", request, level=step.level)
    await escalation.apply(session, request, step, SWEEPER, reason="overdue", now=now)


async def climb(session: AsyncSession, now: datetime | None = None) -> dict[str, int]:
    """Timed steps: a request still overdue and on the clock `escalation_delay` after its last step goes
    one level further up, until the city."""
    now = now or datetime.now(UTC)
    delay = await escalation.escalation_delay(session)
    due = await session.scalars(
        select(Request)
        .join(Escalation, Escalation.request_id == Request.id)
        .where(
            Request.sla_state == "overdue",
            Request.status.in_(CLIMBING),
            Escalation.escalated_at <= now - delay,
            # Not at the top yet: the city's path holds one code (`/3302/`).
            ~Escalation.to_path.regexp_match(r"^/([^/]+/)?$"),
        )
        .order_by(Request.id)
        .limit(BATCH)
        .with_for_update(of=Request, skip_locked=True)
    )
    climbed = 0
    for request in due:
        await escalation.escalate(session, request, SWEEPER, reason="timed", now=now)
        climbed += 1
    return {"escalated": climbed}


async def sla_clock(session: AsyncSession, now: datetime | None = None) -> dict[str, int]:
    """What the routing worker's cron runs: `sweep`, then `climb`, at one `now`."""
    now = now or datetime.now(UTC)
    counts = await sweep(session, now)
    counts.update(await climb(session, now))
    return counts

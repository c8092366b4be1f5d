"""Changing a request's state: one place that bumps the version, writes the event, and tells subscribers."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.events import append_event
from services.intake.models import OutboxEntry, Request
from shared.queue import enqueue_after_commit

ROUTE_TASK = "route_request"


def route_job_id(request_id: int, version: int) -> str:
    return f"route:{request_id}:{version}"


async def record_change(
    session: AsyncSession,
    request: Request,
    kind: str,
    actor: str,
    *,
    to_status: str | None = None,
    note: str | None = None,
    public: bool = False,
    data: dict[str, Any] | None = None,
) -> None:
    """Apply `to_status` (if any), bump the version, log the event, and emit `request.status_changed`."""
    from services.webhooks.service import emit  # webhooks depend on nothing here; imported late to keep layers flat

    from_status = request.status
    if to_status is not None:
        request.status = to_status
    request.version += 1
    await append_event(
        session,
        request.id,
        kind,
        actor,
        from_status=from_status,
        to_status=request.status,
        note=note,
        public=public,
        data={**(data or {}), "version": request.version},
    )
    if request.status != from_status:
        await emit(
            session,
            "request.status_changed",
            {"request_id": request.id, "version": request.version, "from": from_status, "to": request.status},
            owner=request.created_by if request.created_by.startswith("key:") else None,
        )


def schedule_routing(session: AsyncSession, request: Request) -> str:
    """Write the outbox entry for routing this version and enqueue the job once the unit of work commits."""
    job_id = route_job_id(request.id, request.version)
    session.add(OutboxEntry(topic="route", job_id=job_id, request_id=request.id, payload={"version": request.version}))
    enqueue_after_commit(session, ROUTE_TASK, request.id, request.version, job_id=job_id)
    return job_id

"""Changing a request's state: one place that bumps the version, writes the event, and tells subscribers."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.lifecycle.events import GENESIS, chain_to, lock_chains
from services.lifecycle.notices import webhook_actor
from services.messages.queue import queue_messages
from services.models import OutboxEntry, Request, RequestEvent
from services.webhooks.service import emit_many
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
    batch = ChangeBatch()
    batch.record(request, kind, actor, to_status=to_status, note=note, public=public, data=data)
    await batch.write(session)


@dataclass(slots=True)
class ChangeBatch:
    """`record_change` for many requests (the caller holds them locked; `write` makes sure), written at once.

    The routing worker changes dozens of requests per transaction; one event query, one insert and one
    webhook emit for all of them cost less than three round trips each. Each request's new events
    chain after its last stored one, in the order they were recorded.
    """

    events: list[RequestEvent] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)  # every request changed, in order
    status_changes: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)

    def record(
        self,
        request: Request,
        kind: str,
        actor: str,
        *,
        to_status: str | None = None,
        note: str | None = None,
        public: bool = False,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Apply `to_status` (if any) and bump the version now; the event and webhook wait for `write`."""
        from_status = request.status
        if to_status is not None:
            request.status = to_status
        request.version += 1
        self.requests.append(request)
        self.events.append(
            RequestEvent(
                request_id=request.id,
                kind=kind,
                actor=actor,
                from_status=from_status,
                to_status=request.status,
                note=note,
                public=public,
                data={**(data or {}), "version": request.version},
                occurred_at=datetime.now(UTC).replace(microsecond=0),
            )
        )
        if request.status != from_status:
            fields = {
                "request_id": request.id,
                "version": request.version,
                "from": from_status,
                "to": request.status,
                "tracking_no": request.tracking_no,
                "external_id": request.external_id,
            }
            self.status_changes.append((fields, webhook_actor(request)))

    async def write(self, session: AsyncSession) -> None:
        """Chain and insert the recorded events, queue the citizens' messages they call for, then emit
        `request.status_changed` for the status changes."""
        if not self.events:
            return
        ids = sorted({e.request_id for e in self.events})
        await lock_chains(session, ids)
        rows = await session.execute(
            select(RequestEvent.request_id, RequestEvent.seq, RequestEvent.hash)
            .where(RequestEvent.request_id.in_(ids))
            .ext(distinct_on(RequestEvent.request_id))
            .order_by(RequestEvent.request_id, RequestEvent.seq.desc())
        )
        chain: dict[int, tuple[int, str]] = {r.request_id: (r.seq, r.hash) for r in rows}
        values: list[dict[str, Any]] = []
        for event in self.events:
            seq, prev_hash = chain.get(event.request_id, (0, GENESIS))
            values.append(chain_to(event, seq + 1, prev_hash))
            chain[event.request_id] = (event.seq, event.hash)
        await session.execute(insert(RequestEvent).execution_options(render_nulls=True), values)
        # What the citizen is told (receipt, public reply, resolution, reopening): docs/messages.md.
        await queue_messages(session, zip(self.requests, self.events, strict=True))
        if self.status_changes:
            await emit_many(session, "request.status_changed", self.status_changes)
        self.events, self.requests, self.status_changes = [], [], []


def schedule_routing(session: AsyncSession, request: Request) -> str:
    """Write the outbox entry for routing this version and enqueue the job once the unit of work commits."""
    job_id = route_job_id(request.id, request.version)
    session.add(OutboxEntry(topic="route", job_id=job_id, request_id=request.id, payload={"version": request.version}))
    enqueue_after_commit(session, ROUTE_TASK, request.id, request.version, job_id=job_id)
    return job_id


async def close_duplicates(session: AsyncSession, original: Request) -> None:
    """Duplicates close with their original."""
    duplicates = await session.scalars(
        select(Request).where(Request.duplicate_of_id == original.id, Request.status == "duplicate").with_for_update()
    )
    for duplicate in duplicates:
        duplicate.closed_at = datetime.now(UTC)
        duplicate.close_reason = "with_original"
        await record_change(
            session, duplicate, "closed", "system:handling", to_status="closed", data={"original": original.id}
        )

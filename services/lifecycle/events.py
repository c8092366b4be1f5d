"""The request's audit trail: append-only rows, each carrying the hash of the one before."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Request, RequestEvent

GENESIS = "0" * 64


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the event's canonical JSON."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _hashed(
    request_id: int,
    seq: int,
    kind: str,
    actor: str,
    from_status: str | None,
    to_status: str | None,
    note: str | None,
    public: bool,
    data: dict[str, Any],
    occurred_at: datetime,
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "seq": seq,
        "kind": kind,
        "actor": actor,
        "from": from_status,
        "to": to_status,
        "note": note,
        "public": public,
        "data": data,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
    }


def _hashed_fields(event: RequestEvent) -> dict[str, Any]:
    return _hashed(
        event.request_id,
        event.seq,
        event.kind,
        event.actor,
        event.from_status,
        event.to_status,
        event.note,
        event.public,
        event.data,
        event.occurred_at,
    )


EVENT_COLUMNS = (
    "request_id", "seq", "kind", "actor", "from_status", "to_status", "note", "public", "data", "occurred_at",
    "prev_hash", "hash",
)  # fmt: skip


def chain_to(event: RequestEvent, seq: int, prev_hash: str) -> dict[str, Any]:
    """Give `event` its place in the chain (seq, prev_hash, hash) and answer its column values, for a Core insert."""
    event.seq, event.prev_hash = seq, prev_hash
    event.hash = event_hash(prev_hash, _hashed_fields(event))
    return {column: getattr(event, column) for column in EVENT_COLUMNS}


def first_event(
    request_id: int, kind: str, actor: str, *, to_status: str, data: dict[str, Any], occurred_at: datetime
) -> dict[str, Any]:
    """The column values of a request's first event (seq 1, chained to the genesis hash), for a Core insert."""
    occurred_at = occurred_at.replace(microsecond=0)
    fields = _hashed(request_id, 1, kind, actor, None, to_status, None, False, data, occurred_at)
    return {
        "request_id": request_id,
        "seq": 1,
        "kind": kind,
        "actor": actor,
        "from_status": None,
        "to_status": to_status,
        "note": None,
        "public": False,
        "data": data,
        "occurred_at": occurred_at,
        "prev_hash": GENESIS,
        "hash": event_hash(GENESIS, fields),
    }


async def lock_chains(session: AsyncSession, request_ids: list[int]) -> None:
    """Hold the rows of `request_ids` (in id order, so two lockers cannot deadlock) until the transaction ends.

    Whoever appends to a request's trail takes this lock first and reads the chain's head after it: a read
    that only logs (a `pii_viewed` on `?reveal_pii=true`) then waits for a concurrent action instead of
    failing on the unique (request_id, seq). A lock the caller already holds costs one round trip.
    """
    await session.execute(
        select(Request.id).where(Request.id.in_(sorted(set(request_ids)))).order_by(Request.id).with_for_update()
    )


async def append_event(
    session: AsyncSession,
    request_id: int,
    kind: str,
    actor: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    public: bool = False,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    first: bool = False,
) -> RequestEvent:
    """Append one event after the request's last (`first=True`: the request was just created, skip reading
    the chain). Appends to one request are serialised by its row lock, so concurrent appends never race on `seq`."""
    last = None
    if not first:
        await lock_chains(session, [request_id])
        last = (
            await session.execute(
                select(RequestEvent.seq, RequestEvent.hash)
                .where(RequestEvent.request_id == request_id)
                .order_by(RequestEvent.seq.desc())
                .limit(1)
            )
        ).first()
    event = RequestEvent(
        request_id=request_id,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        note=note,
        public=public,
        data=data or {},
        occurred_at=(occurred_at or datetime.now(UTC)).replace(microsecond=0),
    )
    chain_to(event, *((last[0] + 1, last[1]) if last else (1, GENESIS)))
    session.add(event)
    await session.flush()
    return event


def verify_chain(events: list[RequestEvent]) -> int | None:
    """The seq of the first event whose hash does not hold (tampering), or None when the chain is whole."""
    prev_hash = GENESIS
    for event in sorted(events, key=lambda e: e.seq):
        if event.prev_hash != prev_hash or event.hash != event_hash(prev_hash, _hashed_fields(event)):
            return event.seq
        prev_hash = event.hash
    return None

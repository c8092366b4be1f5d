"""Idempotency-Key handling: the same key and body replays the first answer; another body is a 409."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.errors import IdempotencyConflict
from services.models import IdempotencyKey

KEEP = timedelta(hours=24)


def body_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(session: AsyncSession, actor: str, key: str, digest: str) -> IdempotencyKey | None:
    """Claim the key for this unit of work, or return the finished answer of an earlier call.

    A concurrent call with the same key waits on the unique index until the first commits (then it
    gets the stored answer) or rolls back (then it claims the key itself).
    """
    for _ in range(2):
        claimed = await session.scalar(
            insert(IdempotencyKey)
            .values(owner=actor, key=key, body_hash=digest, status_code=0, response={})
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.owner)
        )
        if claimed is not None:
            return None
        existing = await session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.owner == actor, IdempotencyKey.key == key)
            .execution_options(populate_existing=True)
        )
        if existing is None:
            continue  # the holder rolled back between our insert and read: claim again
        if existing.created_at < datetime.now(UTC) - KEEP:
            await session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.owner == actor, IdempotencyKey.key == key)
            )
            continue
        if existing.body_hash != digest:
            raise IdempotencyConflict("This Idempotency-Key was used with a different body")
        return existing
    raise IdempotencyConflict("This Idempotency-Key is busy; retry")


async def record(
    session: AsyncSession, actor: str, key: str, status_code: int, response: dict[str, Any], request_id: int | None
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.owner == actor, IdempotencyKey.key == key)
        .values(status_code=status_code, response=response, request_id=request_id)
    )

"""Retention (issue 17): what the platform stops keeping, on a schedule, with configurable ages.

- Processed outbox entries, finished webhook deliveries (delivered or failed), expired idempotency keys:
  deleted once older than their age (`RETENTION_*`).
- Rate-limit counters in Redis carry their own lifetime; any left without one (a crash between INCR and
  EXPIRE in an older version) is deleted.
- Citizens' names and phones on requests closed longer than `RETENTION_PII_DAYS` ago: erased (the
  encrypted fields and the phone's matching hash set to NULL, `pii_erased_at` set, a `pii_erased` event on
  the request's trail). The request, its trail and every score stay valid: scoring reads no personal data.

Each run deletes in batches (short transactions, never a long lock) and is logged in `retention_runs`.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.lifecycle.events import append_event, lock_chains
from services.models import IdempotencyKey, OutboxEntry, Request, WebhookDelivery
from services.models.retention import RetentionRun
from shared.settings import get_settings

logger = logging.getLogger("minqing.retention")
RATE_LIMIT_PATTERN = "minqing:rate:*"
ERASED_ACTOR = "system:retention"


@dataclass(frozen=True, slots=True)
class Ages:
    outbox: timedelta
    webhook_deliveries: timedelta
    idempotency_keys: timedelta
    pii: timedelta | None  # None: kept
    batch: int

    @classmethod
    def from_settings(cls) -> "Ages":
        s = get_settings()
        return cls(
            outbox=timedelta(days=s.retention_outbox_days),
            webhook_deliveries=timedelta(days=s.retention_webhook_days),
            idempotency_keys=timedelta(hours=s.retention_idempotency_hours),
            pii=timedelta(days=s.retention_pii_days) if s.retention_pii_days > 0 else None,
            batch=s.retention_batch,
        )

    def described(self) -> dict[str, Any]:
        return {
            "outbox_days": self.outbox.days,
            "webhook_days": self.webhook_deliveries.days,
            "idempotency_hours": int(self.idempotency_keys.total_seconds() // 3600),
            "pii_days": self.pii.days if self.pii else None,
            "batch": self.batch,
        }


async def _delete_batch(session: AsyncSession, model: Any, condition: Any, batch: int) -> int:
    ids = select(model.id).where(condition).limit(batch).with_for_update(skip_locked=True).scalar_subquery()
    result = await session.execute(delete(model).where(model.id.in_(ids)))
    return int(getattr(result, "rowcount", 0) or 0)


async def prune_outbox(session: AsyncSession, now: datetime, ages: Ages) -> int:
    cutoff = now - ages.outbox
    condition = OutboxEntry.processed_at.is_not(None) & (OutboxEntry.processed_at < cutoff)
    return await _delete_batch(session, OutboxEntry, condition, ages.batch)


async def prune_webhook_deliveries(session: AsyncSession, now: datetime, ages: Ages) -> int:
    cutoff = now - ages.webhook_deliveries
    condition = (WebhookDelivery.state != "pending") & (WebhookDelivery.created_at < cutoff)
    return await _delete_batch(session, WebhookDelivery, condition, ages.batch)


async def prune_idempotency_keys(session: AsyncSession, now: datetime, ages: Ages) -> int:
    cutoff = now - ages.idempotency_keys
    keys = (
        select(IdempotencyKey.owner, IdempotencyKey.key)
        .where(IdempotencyKey.created_at < cutoff)
        .limit(ages.batch)
        .with_for_update(skip_locked=True)
    )
    rows = (await session.execute(keys)).all()
    for owner, key in rows:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key))
    return len(rows)


async def erase_pii(session: AsyncSession, now: datetime, ages: Ages) -> int:
    """Erase the citizen data of one batch of requests closed before the cutoff; each gets a trail event."""
    if ages.pii is None:
        return 0
    cutoff = now - ages.pii
    ids = list(
        await session.scalars(
            select(Request.id)
            .where(
                Request.closed_at.is_not(None),
                Request.closed_at < cutoff,
                Request.pii_erased_at.is_(None),
                Request.citizen_name_enc.is_not(None) | Request.citizen_phone_enc.is_not(None),
            )
            .order_by(Request.id)
            .limit(ages.batch)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return 0
    await session.execute(
        update(Request)
        .where(Request.id.in_(ids))
        .values(citizen_name_enc=None, citizen_phone_enc=None, citizen_phone_hash=None, pii_erased_at=now)
        .execution_options(synchronize_session=False)
    )
    await lock_chains(session, ids)
    for request_id in ids:
        await append_event(
            session,
            request_id,
            "pii_erased",
            ERASED_ACTOR,
            data={"reason": "retention", "closed_before": cutoff.isoformat()},
        )
    return len(ids)


async def prune_rate_limit_keys(redis: Any) -> int:
    """Delete rate-limit counters that carry no lifetime (every counter is created with one)."""
    removed = 0
    async for key in redis.scan_iter(match=RATE_LIMIT_PATTERN, count=1000):
        if await redis.ttl(key) == -1:
            removed += int(await redis.delete(key))
    return removed


STEPS = {
    "outbox": prune_outbox,
    "webhook_deliveries": prune_webhook_deliveries,
    "idempotency_keys": prune_idempotency_keys,
    "pii_erased": erase_pii,
}


async def run(unit_of_work: Any, redis: Any, now: datetime | None = None, max_batches: int = 100) -> RetentionRun:
    """One retention run: every step in batches (each batch its own transaction) until nothing is left or
    `max_batches` of a step were done (the next run goes on), then the run's log row."""
    started = datetime.now(UTC)
    now = now or started
    ages = Ages.from_settings()
    counts: dict[str, int] = {}
    for name, step in STEPS.items():
        total = 0
        for _ in range(max_batches):
            async with unit_of_work() as session:
                done = await step(session, now, ages)
            total += done
            if done < ages.batch:
                break
        counts[name] = total
    counts["rate_limit_keys"] = await prune_rate_limit_keys(redis)
    async with unit_of_work() as session:
        record = RetentionRun(
            started_at=started, finished_at=datetime.now(UTC), counts=counts, settings=ages.described()
        )
        session.add(record)
        await session.flush()
        await session.refresh(record)
    logger.info("retention run", extra={"counts": counts})
    return record

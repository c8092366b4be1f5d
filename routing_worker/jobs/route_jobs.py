"""Routing jobs: route one request version (and other pending ones with it); relay the outbox so no
committed request is left unrouted.

arq costs several Redis round trips per job, and a transaction per request costs more: a route job
also routes up to BATCH_EXTRA other requests whose routing is pending, in its own transaction (the
service takes them with SKIP LOCKED). Their own jobs then have nothing left to do: after the commit,
those still waiting in the queue are dropped from it (those already taken run and find nothing to do).
"""

import logging
from typing import Any

from arq.constants import in_progress_key_prefix, job_key_prefix
from redis.asyncio import Redis

from routing_worker import metrics
from routing_worker.tasks import cron_task, task
from services.lifecycle.changes import ROUTE_TASK
from services.routing import relay
from services.routing.service import route_batch
from shared.db import unit_of_work
from shared.queue import DEFAULT_QUEUE, get_queue

logger = logging.getLogger("minqing.routing")

BATCH_EXTRA = 49

# Drop queued jobs that no worker has started (a started job has an in-progress key: it runs and finds
# nothing to do). A worker that checked a job a moment before may still start it and find it gone (arq
# logs "job expired"); its work is committed either way.
_FORGET = """
local removed = 0
for i = 3, #ARGV do
  if redis.call('exists', ARGV[1] .. ARGV[i]) == 0 then
    removed = removed + redis.call('zrem', KEYS[1], ARGV[i])
    redis.call('del', ARGV[2] .. ARGV[i])
  end
end
return removed
"""


async def forget_jobs(redis: Redis, job_ids: list[str]) -> int:
    """Remove route jobs whose work is committed from the queue, unless a worker already took them."""
    if not job_ids:
        return 0
    script = redis.register_script(_FORGET)
    return int(await script(keys=[DEFAULT_QUEUE], args=[in_progress_key_prefix, job_key_prefix, *job_ids]))


@task
async def route_request(ctx: dict[str, Any], request_id: int, version: int) -> str:
    """Route one version of a request (and pending others); running it twice changes nothing the second time."""
    async with unit_of_work() as session:
        routed = await route_batch(session, request_id, version, extra=BATCH_EXTRA)
    metrics.record_routing(routed.first_routings)
    redis = ctx.get("redis") or await get_queue()
    await forget_jobs(redis, routed.done_job_ids)
    outcome = routed.decision.outcome if routed.decision else "nothing to do"
    logger.info(
        "routed",
        extra={"request_id": request_id, "version": version, "outcome": outcome, "batch": routed.routed},
    )
    return outcome


@cron_task(second=set(range(0, 60, 3)), run_at_startup=True)
async def relay_outbox(ctx: dict[str, Any]) -> int:
    """Re-enqueue routing jobs whose outbox entries are still open; the job id makes a duplicate a no-op."""
    async with unit_of_work() as session:
        pending = await relay.pending_jobs(session)
    queue = await get_queue()
    sent = 0
    for job_id, request_id, version in pending:
        if await queue.enqueue_job(ROUTE_TASK, request_id, version, _job_id=job_id) is not None:
            sent += 1
    if sent:
        logger.warning("outbox relay re-sent jobs", extra={"count": sent})
    return sent

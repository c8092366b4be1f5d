"""Routing jobs: route one request version; relay the outbox so no committed request is left unrouted."""

import logging
from typing import Any

from routing_worker.tasks import cron_task, task
from services.handling.changes import ROUTE_TASK
from services.routing import relay
from services.routing.service import route_request as route
from shared.db import unit_of_work
from shared.queue import get_queue

logger = logging.getLogger("minqing.routing")


@task
async def route_request(ctx: dict[str, Any], request_id: int, version: int) -> str:
    """Route one version of a request; running it twice changes nothing the second time."""
    async with unit_of_work() as session:
        decision = await route(session, request_id, version)
    outcome = decision.outcome if decision else "nothing to do"
    logger.info("routed", extra={"request_id": request_id, "version": version, "outcome": outcome})
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

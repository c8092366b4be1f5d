"""Score runs on the long queue (SPEC §7.5): compute a period's scores with visible progress.

`compute_score_run` is enqueued on `shared.queue.LONG_QUEUE` with the job id `score_run:<run id>` when a
run is created; a worker listening on that queue runs it (a year takes minutes, far beyond the default
queue's job timeout). `relay_score_runs` re-sends runs whose job Redis lost or whose worker died; the
job id keeps a re-send from doubling a job still queued, and claiming the run row makes a second
delivery a no-op while the first is alive. A corrected run (an appeal decided after publication) goes the
same way and is published when stored. `auto_publish_score_runs` publishes finished runs whose scheme sets
`publish_after_days` once that many days have passed.
"""

import logging
from typing import Any

from routing_worker.tasks import cron_task, task
from services.scoring import service
from services.scoring.repository import read_snapshot
from shared.db import unit_of_work
from shared.queue import LONG_QUEUE, get_queue

logger = logging.getLogger("minqing.scoring")


@task
async def compute_score_run(ctx: dict[str, Any], run_id: int) -> str:
    """Claim the run, aggregate its months (progress after each), compute, store; a failure marks it failed."""
    async with unit_of_work() as session:
        spec = await service.claim_run(session, run_id)
    if spec is None:
        return "nothing to do"

    async def progress(phase: str, done: int, total: int) -> None:
        async with unit_of_work() as session:
            await service.record_progress(session, run_id, phase, done, total)

    try:
        async with read_snapshot() as snapshot:
            computed = await service.compute_run(snapshot, spec, progress)
        async with unit_of_work() as session:
            await service.store_run(session, run_id, computed)
    except Exception as exc:
        logger.exception("score run failed", extra={"run_id": run_id})
        async with unit_of_work() as session:
            await service.fail_run(
                session, run_id, f"{type(exc).__name__}: the computation failed (see the worker log)"
            )
        return "failed"
    logger.info("score run done", extra={"run_id": run_id, "results": len(computed.rows)})
    return "done"


@cron_task(second={15})
async def relay_score_runs(ctx: dict[str, Any]) -> int:
    """Re-enqueue score runs that are queued but lost, or running without a heartbeat for minutes."""
    async with unit_of_work() as session:
        run_ids = await service.runs_to_resend(session)
    queue = await get_queue()
    sent = 0
    for run_id in run_ids:
        job_id = service.run_job_id(run_id)
        if await queue.enqueue_job(service.RUN_TASK, run_id, _job_id=job_id, _queue_name=LONG_QUEUE) is not None:
            sent += 1
    if sent:
        logger.warning("score runs re-sent", extra={"count": sent})
    return sent


@cron_task(minute={0, 10, 20, 30, 40, 50}, second={45})
async def auto_publish_score_runs(ctx: dict[str, Any]) -> int:
    """Publish the finished runs whose scheme sets `publish_after_days`, once that delay has passed."""
    async with unit_of_work() as session:
        published = await service.publish_due_runs(session)
    if published:
        logger.info("score runs published automatically", extra={"runs": published})
    return len(published)

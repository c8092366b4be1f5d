"""PII key rotation on the long queue (issue 17; docs/operations.md, "PII key rotation").

`rotate_pii` runs a rotation's batches for a time slice well inside the long worker's job timeout, then
hands the rest to a fresh job (`pii_rotation:<id>:<claims>`), so a run of any size never meets the
timeout. `relay_pii_rotations` re-sends a run whose runner went silent (a killed CLI or worker, a job Redis
lost): the next claim resumes after the stored cursor. Several workers at once are safe: the lease on the
run lets one runner in, and the job id keeps a re-send from doubling a queued job.
"""

import logging
from datetime import timedelta
from typing import Any

from routing_worker.tasks import cron_task, task
from services.intake import pii_rotation
from shared.db import unit_of_work

logger = logging.getLogger("minqing.pii_rotation")

# Well inside LongWorkerSettings.job_timeout (30 min).
TIME_SLICE = timedelta(minutes=20)


@task
async def rotate_pii(ctx: dict[str, Any], rotation_id: int) -> str:
    """Run the rotation's batches for one time slice; enqueue the next slice when it is not finished."""
    try:
        rotation = await pii_rotation.run(unit_of_work, rotation_id, budget=TIME_SLICE)
    except (pii_rotation.RotationHeld, pii_rotation.RotationNotFound) as exc:
        logger.info("pii rotation not run here", extra={"rotation_id": rotation_id, "reason": exc.detail})
        return "skipped"
    except pii_rotation.RotationKeysDiffer as exc:
        logger.error("pii rotation refused: keys differ", extra={"rotation_id": rotation_id, "reason": exc.detail})
        return "refused"
    if rotation.state == "running":
        await pii_rotation.resend(rotation)
        return "continued"
    logger.info(
        "pii rotation finished",
        extra={"rotation_id": rotation_id, "state": rotation.state, "passes": rotation.pass_no},
    )
    return rotation.state


@cron_task(second={40})
async def relay_pii_rotations(ctx: dict[str, Any]) -> int:
    """Re-send the rotations that are running without a runner (no batch for a lease's length)."""
    async with unit_of_work() as session:
        stale = await pii_rotation.stale_runs(session)
    sent = 0
    for rotation in stale:
        if await pii_rotation.resend(rotation):
            sent += 1
    if sent:
        logger.warning("pii rotations re-sent", extra={"count": sent})
    return sent

"""arq WorkerSettings for the routing worker: `arq routing_worker.worker.WorkerSettings`."""

import logging
from typing import Any, ClassVar, cast

import arq.worker
from arq import cron
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine

from routing_worker import metrics
from routing_worker.jobs import load_all
from routing_worker.jobs.webhook_jobs import close_shared_client
from routing_worker.tasks import CRONS, TASKS
from services.routing.geodata import geodata
from shared.db import dispose_engine, unit_of_work
from shared.logging import configure_logging
from shared.queue import DEFAULT_QUEUE, LONG_QUEUE, create_redis_pool, redis_settings
from shared.settings import get_settings

load_all()
# arq's worker and `arq --check` connect through `arq.worker.create_pool`, which reaches a Sentinel set
# (REDIS_URL=redis+sentinel://…) without a connect timeout; ours connects as the apps do, and leaves one
# server to arq's own.
arq.worker.create_pool = create_redis_pool  # type: ignore[attr-defined]  # imported there from arq.connections


async def startup(ctx: dict[str, Any]) -> None:
    configure_logging(get_settings().log_level)
    # arq's CLI installs a plain-text handler of its own; log through ours (JSON) only, and keep its
    # per-job lines (a cron every few seconds) out of INFO: our tasks log what they decide.
    arq_logger = logging.getLogger("arq")
    arq_logger.handlers[:] = []
    arq_logger.propagate = True
    logging.getLogger("arq.worker").setLevel(logging.WARNING)


async def routing_startup(ctx: dict[str, Any]) -> None:
    await startup(ctx)
    settings = get_settings()
    metrics.serve(settings.worker_metrics_port, settings.worker_metrics_host)
    # Build the grid index before the first job, not inside it (10,000 grids take about a second).
    async with unit_of_work() as session:
        await geodata(session)


async def long_startup(ctx: dict[str, Any]) -> None:
    await startup(ctx)
    settings = get_settings()
    metrics.serve(settings.long_worker_metrics_port, settings.worker_metrics_host)


async def shutdown(ctx: dict[str, Any]) -> None:
    metrics.stop_serving()
    await close_shared_client()
    await dispose_engine()


class WorkerSettings:
    # Every job and cron timed and counted by result (routing_worker/metrics.py), under its own name.
    functions: ClassVar[list[Any]] = [metrics.instrumented(f, DEFAULT_QUEUE) for f in TASKS.values()]
    cron_jobs: ClassVar[list[Any]] = [
        cron(
            cast(WorkerCoroutine, metrics.instrumented(c.function, DEFAULT_QUEUE)),
            second=c.second,
            minute=c.minute,
            run_at_startup=c.run_at_startup,
            unique=True,
            # No timeout of its own: arq keeps every in-progress key for the longest function timeout
            # + 10 s, so one long cron would hold a killed worker's route jobs that long.
        )
        for c in CRONS
    ]
    queue_name = DEFAULT_QUEUE
    redis_settings: RedisSettings = redis_settings()
    on_startup = routing_startup
    on_shutdown = shutdown
    # arq's defaults suit slow jobs: poll often, keep job timeouts short (a job killed by -9 holds its
    # in-progress key for timeout + 10 s), keep no results (a kept result blocks re-enqueueing a business-key id).
    poll_delay = 0.03
    job_timeout = 20
    keep_result = 0
    # Few jobs at once: a route job also routes the pending requests whose jobs have not started (and drops
    # those jobs), so fewer concurrent jobs make bigger batches and fewer round trips; crons take slots too.
    max_jobs = 4
    handle_signals = True
    # `arq --check` (the container health check) reads this heartbeat.
    health_check_interval = 30


class LongWorkerSettings:
    """The long queue (score runs, deadline recomputes): `arq routing_worker.worker.LongWorkerSettings`.

    Its jobs run for minutes, so they get their own worker: a long job timeout here does not stretch the
    routing queue's in-progress keys, and a score run never holds a slot that routing needs. (arq reads
    a settings class's own attributes only, so nothing here is inherited.)
    """

    functions: ClassVar[list[Any]] = [metrics.instrumented(f, LONG_QUEUE) for f in TASKS.values()]
    queue_name = LONG_QUEUE
    redis_settings: RedisSettings = redis_settings()
    on_startup = long_startup
    on_shutdown = shutdown
    poll_delay = 0.5
    job_timeout = 1800
    keep_result = 0
    max_jobs = 2
    handle_signals = True
    health_check_interval = 30

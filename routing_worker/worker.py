"""arq WorkerSettings for the routing worker: `arq routing_worker.worker.WorkerSettings`."""

from typing import Any, ClassVar

from arq.connections import RedisSettings

from routing_worker.tasks import TASKS
from shared.db import dispose_engine
from shared.logging import configure_logging
from shared.queue import DEFAULT_QUEUE, redis_settings
from shared.settings import get_settings


async def startup(ctx: dict[str, Any]) -> None:
    configure_logging(get_settings().log_level)


async def shutdown(ctx: dict[str, Any]) -> None:
    await dispose_engine()


class WorkerSettings:
    functions: ClassVar[list[Any]] = list(TASKS.values())
    queue_name = DEFAULT_QUEUE
    redis_settings: RedisSettings = redis_settings()
    on_startup = startup
    on_shutdown = shutdown
    # arq's defaults are tuned for slow jobs: poll often, fail fast, keep no results for business-key ids.
    poll_delay = 0.03
    job_timeout = 30
    keep_result = 0
    max_jobs = 20
    handle_signals = True

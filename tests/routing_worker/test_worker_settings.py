"""Both WorkerSettings classes build the workers `arq <settings>` builds, each on its own queue."""

from typing import Any, cast

import pytest
from arq.worker import create_worker

from routing_worker.worker import LongWorkerSettings, WorkerSettings
from shared.queue import DEFAULT_QUEUE, LONG_QUEUE, get_queue


@pytest.mark.parametrize(("settings", "queue"), [(WorkerSettings, DEFAULT_QUEUE), (LongWorkerSettings, LONG_QUEUE)])
async def test_arq_builds_each_worker_from_its_settings_and_it_runs_its_queue(settings, queue):
    # `arq X` calls create_worker(X), which reads only X's own attributes (nothing inherited).
    await (await get_queue()).enqueue_job("ping", _job_id=f"ping:{queue}", _queue_name=queue)
    worker = create_worker(settings, burst=True, handle_signals=False, poll_delay=0.01, cron_jobs=[])
    try:
        assert worker.queue_name == queue
        await worker.main()
        assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    finally:
        await worker.close()


def test_the_routing_queue_keeps_in_progress_keys_short():
    # A worker killed with -9 leaves its jobs "in progress" for the longest function timeout + 10 s.
    worker = create_worker(cast(Any, WorkerSettings), handle_signals=False)
    assert worker.in_progress_timeout_s <= 30
    long_worker = create_worker(cast(Any, LongWorkerSettings), handle_signals=False)
    assert long_worker.queue_name == LONG_QUEUE
    assert long_worker.in_progress_timeout_s >= 1800
    assert long_worker.cron_jobs == []

"""The worker consumes its queue; jobs are enqueued only after a commit, once per business key."""

import pytest

from shared.db import unit_of_work
from shared.queue import DEFAULT_QUEUE, enqueue_after_commit, get_queue
from tests.kit import burst_worker


async def test_job_is_enqueued_after_commit_and_consumed():
    async with unit_of_work() as session:
        enqueue_after_commit(session, "ping", job_id="ping:1")
        # Not yet: the unit of work has not committed.
        assert await (await get_queue()).queued_jobs(queue_name=DEFAULT_QUEUE) == []
    queued = await (await get_queue()).queued_jobs(queue_name=DEFAULT_QUEUE)
    assert [job.job_id for job in queued] == ["ping:1"]
    worker = burst_worker()
    await worker.main()
    assert worker.jobs_complete == 1
    assert worker.jobs_failed == 0
    await worker.close()


async def test_rolled_back_work_enqueues_nothing():
    with pytest.raises(RuntimeError):
        async with unit_of_work() as session:
            enqueue_after_commit(session, "ping", job_id="ping:2")
            raise RuntimeError("business rule failed")
    assert await (await get_queue()).queued_jobs(queue_name=DEFAULT_QUEUE) == []


async def test_same_business_key_is_queued_once():
    for _ in range(3):
        async with unit_of_work() as session:
            enqueue_after_commit(session, "ping", job_id="ping:3")
    queued = await (await get_queue()).queued_jobs(queue_name=DEFAULT_QUEUE)
    assert [job.job_id for job in queued] == ["ping:3"]

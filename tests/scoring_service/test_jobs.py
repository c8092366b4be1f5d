"""Large recomputes run on the long queue with visible progress; lost ones are re-sent."""

from datetime import UTC, datetime, timedelta

from arq.worker import Worker
from sqlalchemy import update

from routing_worker.jobs.scoring_jobs import compute_score_run, relay_score_runs
from services.models import ScoreRun
from services.scoring import service
from services.scoring.schemas import RunCreate
from shared.db import unit_of_work
from shared.queue import LONG_QUEUE, get_queue, redis_settings
from tests.factories import bearer, make_staff
from tests.services.scoring.helpers import AS_OF, PERIOD, build_small_fixture


def long_queue_worker() -> Worker:
    """A burst worker on the long queue, as the long-queue WorkerSettings would run it."""
    return Worker(
        functions=[compute_score_run],  # type: ignore[list-item]
        redis_pool=None,
        redis_settings=redis_settings(),
        queue_name=LONG_QUEUE,
        burst=True,
        poll_delay=0.01,
        keep_result=0,
        handle_signals=False,
        job_timeout=600,
    )


async def test_background_run_goes_to_the_long_queue_and_reports_progress(session, scoring_client):
    s, _, _ = await build_small_fixture(session)
    supervisor = await make_staff(session, "sup_city", "supervisor", s["units"]["3302"])
    await session.commit()
    started = await scoring_client.post(
        "/v1/scores/runs",
        json={"period": PERIOD, "as_of": AS_OF.isoformat(), "background": True},
        headers=bearer(supervisor),
    )
    assert started.status_code == 202, started.text
    run = started.json()
    assert (run["status"], run["mode"], run["progress"]) == ("queued", "queued", 0.0)
    queued = await (await get_queue()).queued_jobs(queue_name=LONG_QUEUE)
    assert [job.job_id for job in queued] == [f"score_run:{run['id']}"]

    worker = long_queue_worker()
    await worker.main()
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    await worker.close()

    done = (await scoring_client.get(f"/v1/scores/runs/{run['id']}", headers=bearer(supervisor))).json()
    assert (done["status"], done["phase"], done["progress"], done["chunks_done"]) == ("done", "done", 1.0, 1)
    assert done["cohort_size"] == 9 and done["results"] > 0
    scores = await scoring_client.get("/v1/scores/units", params={"period": PERIOD}, headers=bearer(supervisor))
    assert scores.status_code == 200 and scores.json()["items"]
    # Delivered twice: the second run of the job finds it done and changes nothing.
    assert await compute_score_run({}, run["id"]) == "nothing to do"


async def test_lost_and_stalled_runs_are_resent(session):
    _, principal, _ = await build_small_fixture(session)
    run, _ = await service.create_run(session, principal, RunCreate(period=PERIOD, as_of=AS_OF, background=True))
    await session.commit()
    await (await get_queue()).flushdb()  # Redis lost the job
    assert await relay_score_runs({}) == 0  # too recent: the enqueue after commit may still be on its way
    async with unit_of_work() as uow:
        await uow.execute(
            update(ScoreRun).where(ScoreRun.id == run.id).values(created_at=datetime.now(UTC) - timedelta(minutes=2))
        )
    assert await relay_score_runs({}) == 1
    queued = await (await get_queue()).queued_jobs(queue_name=LONG_QUEUE)
    assert [job.job_id for job in queued] == [f"score_run:{run.id}"]
    # Still queued: sending again is a no-op thanks to the job id.
    assert await relay_score_runs({}) == 0

"""Batch routing: a route job also routes the other pending requests, each exactly once, and their
queued jobs leave the queue; concurrent batches never take the same request."""

import asyncio
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from routing_worker.jobs.route_jobs import route_request as route_job
from services.lifecycle.events import verify_chain
from services.models import Assignment, OutboxEntry, Request, RequestEvent
from services.routing.service import route_batch
from shared.db import get_sessionmaker, unit_of_work
from shared.queue import DEFAULT_QUEUE, get_queue
from tests.factories import at_grid, make_leader_link
from tests.kit import burst_worker


async def _create_many(client, setup, count: int, grids: tuple[int, ...] = (0, 1, 2), **overrides) -> list[int]:
    ids = []
    for n in range(count):
        body = at_grid(
            grids[n % len(grids)], description=f"第{n}件事", citizen={"phone": f"1390000{n:04d}"}, **overrides
        )
        k = n // len(grids)  # ~80 m apart within the grid: not duplicates of each other
        body["location"]["lon"] += 0.0008 * (k % 4)
        body["location"]["lat"] += 0.0008 * (k // 4)
        r = await client.post("/v1/requests", json=body, headers=setup["key"])
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def _assignments_per_request(session) -> dict[int, int]:
    rows = await session.execute(select(Assignment.request_id, func.count()).group_by(Assignment.request_id))
    return dict(rows.all())


async def test_one_job_routes_the_pending_requests_and_drops_their_queued_jobs(session, intake_client, setup):
    ids = await _create_many(intake_client, setup, 7)
    queue = await get_queue()
    assert await queue.zcard(DEFAULT_QUEUE) == 7

    assert await route_job({"redis": queue}, ids[0], 1) == "assigned"

    assert await _assignments_per_request(session) == dict.fromkeys(ids, 1)
    assert await queue.zcard(DEFAULT_QUEUE) == 1  # only the job that ran is left (arq removes it when it ends)
    pending = await session.scalar(
        select(func.count()).select_from(OutboxEntry).where(OutboxEntry.processed_at.is_(None))
    )
    assert pending == 0
    for request_id in ids:
        events = list(await session.scalars(select(RequestEvent).where(RequestEvent.request_id == request_id)))
        assert [e.kind for e in sorted(events, key=lambda e: e.seq)] == ["received", "routed"]
        assert verify_chain(events) is None
        request = await session.get(Request, request_id, populate_existing=True)
        assert (request.status, request.version, request.routing_no) == ("assigned", 2, 1)
    await burst_worker().main()  # whatever is left in the queue finds nothing to do
    assert await _assignments_per_request(session) == dict.fromkeys(ids, 1)


async def test_a_batch_spreads_one_team_s_requests_evenly(session, intake_client, setup):
    ids = await _create_many(intake_client, setup, 6, grids=(0,), category="utilities")
    async with unit_of_work() as work:
        routed = await route_batch(work, ids[0], 1, extra=10)
    assert routed.routed == 6
    handlers = Counter([(await session.get(Request, i)).handler_id for i in ids])
    assert sorted(handlers) == sorted(s.id for s in setup["handlers"]["330203001001001"])
    assert sorted(handlers.values()) == [3, 3]


async def test_a_batch_skips_a_request_another_transaction_holds(session, intake_client, setup):
    first, held = await _create_many(intake_client, setup, 2)
    async with get_sessionmaker()() as other:
        await other.get(Request, held, with_for_update=True)  # e.g. a handler action in progress
        async with unit_of_work() as work:
            routed = await route_batch(work, first, 1, extra=10)
        assert routed.routed == 1 and routed.done_job_ids == []
        await other.rollback()
    entry = await session.scalar(select(OutboxEntry).where(OutboxEntry.request_id == held))
    assert entry.processed_at is None  # still owed: its own job (or the relay) routes it
    await burst_worker().main()
    assert await _assignments_per_request(session) == {first: 1, held: 1}


async def test_two_workers_batching_at_once_give_one_assignment_each(session, intake_client, setup):
    ids = await _create_many(intake_client, setup, 30)
    queue = await get_queue()
    for request_id in ids:  # every job twice, as a relay and a retry might send it
        await queue.enqueue_job("route_request", request_id, 1, _job_id=f"again:{request_id}")
    workers = [burst_worker(max_jobs=5), burst_worker(max_jobs=5)]
    await asyncio.gather(*(w.main() for w in workers))
    for w in workers:
        await w.close()
    assert await _assignments_per_request(session) == dict.fromkeys(ids, 1)
    events = Counter(
        (await session.execute(select(RequestEvent.request_id).where(RequestEvent.kind == "routed"))).scalars()
    )
    assert events == dict.fromkeys(ids, 1)
    assert sum(w.jobs_failed for w in workers) == 0


async def test_concurrent_batches_in_one_process_route_each_request_once(session, intake_client, setup):
    ids = await _create_many(intake_client, setup, 24)

    async def batch(request_id: int) -> Any:
        async with unit_of_work() as work:
            return await route_batch(work, request_id, 1, extra=8)

    results = await asyncio.gather(*(batch(i) for i in ids[:6]))
    assert sum(r.routed for r in results) <= 24
    done = [job for r in results for job in r.done_job_ids]
    assert len(done) == len(set(done))
    await burst_worker().main()
    assert await _assignments_per_request(session) == dict.fromkeys(ids, 1)


async def test_key_group_request_notifies_the_linked_leaders_in_a_batch(session, intake_client, setup):
    units = setup["units"]
    await make_leader_link(session, setup["dispatcher"], org_unit_id=units["330203"].id)
    await session.commit()
    ids = await _create_many(intake_client, setup, 3, grids=(0,), category="land.acquisition")
    async with unit_of_work() as work:
        await route_batch(work, ids[0], 1, extra=10)
    for request_id in ids:
        events = sorted(
            await session.scalars(select(RequestEvent).where(RequestEvent.request_id == request_id)),
            key=lambda e: e.seq,
        )
        assert [e.kind for e in events] == ["received", "routed", "leader_notified"]
        assert events[-1].data["leader_ids"] == [setup["dispatcher"].id]
        assert verify_chain(events) is None
        assert (await session.get(Request, request_id)).version == 3

"""Routing by the worker: location, matrix, member choice, reasons recorded, exactly once."""

import asyncio

from sqlalchemy import func, select, update

from services.models import Assignment, OutboxEntry, Request, RequestEvent
from shared.queue import get_queue
from tests.factories import at_grid, request_body
from tests.kit import burst_worker, create_request, drain


async def test_request_in_a_grid_goes_to_an_on_duty_member_of_its_team(session, intake_client, setup):
    created = await create_request(intake_client, setup["key"], at_grid(1))
    await drain()
    request = await session.get(Request, created["id"])
    assert request.status == "assigned"
    assert request.lead_team_id == setup["teams"]["330203002001001"].id
    assert request.handler_id in {s.id for s in setup["handlers"]["330203002001001"]}
    assert request.unit_path.endswith("/330203002001001/")
    event = await session.scalar(select(RequestEvent).where(RequestEvent.kind == "routed"))
    assert event.data["located_by"] == "coordinates"
    assert event.data["rule_id"] is not None
    assert {c["staff_id"] for c in event.data["candidates"]} == {s.id for s in setup["handlers"]["330203002001001"]}
    assert await session.scalar(select(OutboxEntry.processed_at)) is not None


async def test_equal_load_alternates_between_members(session, intake_client, setup):
    ids = []
    for n in range(4):
        body = at_grid(0, category="utilities", description=f"第{n}次停水", citizen={"phone": f"1390000000{n}"})
        body["location"]["lon"] += 0.001 * n  # 100 m apart: not duplicates of each other
        ids.append((await create_request(intake_client, setup["key"], body))["id"])
        await drain()
    handlers = [(await session.get(Request, i)).handler_id for i in ids]
    members = sorted(s.id for s in setup["handlers"]["330203001001001"])
    assert sorted(handlers) == sorted(members * 2)


async def test_department_rule_puts_the_request_in_the_department_queue(session, intake_client, setup):
    created = await create_request(intake_client, setup["key"], at_grid(0, category="env"))
    await drain()
    request = await session.get(Request, created["id"])
    assert (request.status, request.lead_department_id, request.handler_id) == ("assigned", setup["hb"].id, None)


async def test_more_specific_category_rule_wins(session, intake_client, setup):
    created = await create_request(intake_client, setup["key"], at_grid(0, category="env.noise"))
    await drain()
    request = await session.get(Request, created["id"])
    assert request.lead_team_id == setup["teams"]["330203001001001"].id


async def test_unknown_category_goes_to_the_district_dispatcher(session, intake_client, setup):
    created = await create_request(intake_client, setup["key"], at_grid(2, category="unknown"))
    await drain()
    request = await session.get(Request, created["id"])
    assert request.status == "needs_dispatch"
    assert request.unit_path == "/3302/330205/"


async def test_address_text_locates_when_there_are_no_coordinates(session, intake_client, setup):
    body = request_body(location={"address": "宁波市单位330205001001小区"}, category="utilities")
    created = await create_request(intake_client, setup["key"], body)
    await drain()
    request = await session.get(Request, created["id"])
    # The address names a community, not a grid: a grid-team rule cannot apply, a dispatcher decides.
    assert request.status == "needs_dispatch"
    event = await session.scalar(select(RequestEvent).where(RequestEvent.kind == "needs_dispatch"))
    assert event.data["located_by"] == "address"


async def test_duplicate_follows_the_original_handler(session, intake_client, setup):
    first = await create_request(intake_client, setup["key"], at_grid(0))
    second = await create_request(intake_client, setup["key"], at_grid(0, citizen={"phone": "13700000000"}))
    assert second["status"] == "duplicate"
    await drain()
    original = await session.get(Request, first["id"])
    duplicate = await session.get(Request, second["id"])
    assert duplicate.status == "duplicate"
    assert duplicate.handler_id == original.handler_id is not None


async def test_running_the_job_twice_assigns_once(session, intake_client, setup):
    created = await create_request(intake_client, setup["key"], at_grid(0))
    await drain()
    queue = await get_queue()
    await queue.enqueue_job("route_request", created["id"], 1, _job_id=f"route:{created['id']}:1")
    await drain()
    count = await session.scalar(
        select(func.count()).select_from(Assignment).where(Assignment.request_id == created["id"])
    )
    assert count == 1


async def test_two_workers_on_one_request_produce_one_assignment(session, intake_client, setup):
    created = [
        await create_request(
            intake_client, setup["key"], at_grid(n % 3, citizen={"phone": f"1360000000{n}"}, description=f"事情{n}")
        )
        for n in range(6)
    ]
    queue = await get_queue()
    # Each job twice under different ids, as a relay and a retry might; two workers race over them.
    for c in created:
        await queue.enqueue_job("route_request", c["id"], 1, _job_id=f"again:{c['id']}")
    workers = [burst_worker(), burst_worker()]
    await asyncio.gather(*(w.main() for w in workers))
    for w in workers:
        await w.close()
    rows = (await session.execute(select(Assignment.request_id, func.count()).group_by(Assignment.request_id))).all()
    assert sorted(rows) == sorted((c["id"], 1) for c in created)


async def test_relay_resends_a_job_lost_by_redis(session, intake_client, setup):
    from routing_worker.jobs.route_jobs import relay_outbox
    from services.routing import relay

    created = await create_request(intake_client, setup["key"], at_grid(0))
    await (await get_queue()).flushdb()  # Redis lost the job
    assert await relay.pending_jobs(session, now=None) == []  # within the grace period
    await session.execute(update(OutboxEntry).values(created_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 5)))
    await session.commit()
    assert await relay_outbox({}) == 1
    await drain()
    assert (await session.get(Request, created["id"], populate_existing=True)).status == "assigned"

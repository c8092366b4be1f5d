"""Helpers of the security tests: create and route requests, find their handler."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Request
from tests.factories import at_grid
from tests.routing_worker.test_routing import drain

PROBLEM = "application/problem+json"
# Grid 0 and grid 1 lie in two streets of district 330203; grid 2 in district 330205.
GRIDS = ("330203001001001", "330203002001001", "330205001001001")


async def create(client: Any, headers: dict[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = await client.post("/v1/requests", json=body or at_grid(0), headers=headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def routed(
    client: Any, session: AsyncSession, setup: dict[str, Any], body: dict[str, Any] | None = None
) -> Request:
    """A request created by the setup's integration and routed by the worker (burst mode)."""
    created = await create(client, setup["key"], body)
    await drain()
    request = await session.get(Request, created["id"], populate_existing=True)
    assert request is not None and request.handler_id is not None
    return request


def handler_of(setup: dict[str, Any], request: Request) -> Any:
    for staff in [s for group in setup["handlers"].values() for s in group] + [setup["hb_staff"]]:
        if staff.id == request.handler_id:
            return staff
    raise AssertionError("the request has no handler from the setup")

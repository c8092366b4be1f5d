"""Helpers of the security tests (creating requests and finding their handler are the kit's, tests/kit.py)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Request
from tests.kit import routed_request

# Grid 0 and grid 1 lie in two streets of district 330203; grid 2 in district 330205.
GRIDS = ("330203001001001", "330203002001001", "330205001001001")


async def routed(
    client: Any, session: AsyncSession, setup: dict[str, Any], body: dict[str, Any] | None = None
) -> Request:
    """A request created by the setup's integration and routed by the worker (burst mode) to a handler."""
    request = await routed_request(client, session, setup, body)
    assert request.handler_id is not None
    return request

"""Shared data for the OWASP API Security Top 10 (2023) tests: the small city of `make_handling_setup`."""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_handling_setup


@pytest.fixture
async def setup(session: AsyncSession) -> dict[str, Any]:
    data = await make_handling_setup(session)
    await session.commit()
    return data

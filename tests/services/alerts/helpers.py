"""Requests written straight through the ORM, at chosen times and places, for the hot-spot scan."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.models import OrgUnit, Request
from tests.factories import make_request

# Thursday 26 Nov 2026, 17:35 in Ningbo (+08:00) = 09:35 UTC. A scan then looks at the window
# [25 Nov 10:00 UTC, 26 Nov 10:00 UTC) = [25 Nov 18:00, 26 Nov 18:00) +08:00, and its baseline
# is the 28 days [28 Oct 10:00 UTC, 25 Nov 10:00 UTC).
NOW = datetime(2026, 11, 26, 9, 35, tzinfo=UTC)
WINDOW_START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def add_requests(
    session: AsyncSession,
    unit: OrgUnit,
    category_code: str,
    received: list[datetime],
) -> list[Request]:
    """One request per time in `received`, located at `unit` (a grid, community, street, …)."""
    return [
        await make_request(
            session,
            unit=unit,
            category_code=category_code,
            received_at=at,
        )
        for at in received
    ]


def hours_before(now: datetime, *hours: float) -> list[datetime]:
    return [now - timedelta(hours=h) for h in hours]


def daily_baseline(window_start: datetime, per_day: int, days: int = 28) -> list[datetime]:
    """`per_day` requests on each of the `days` days before the window, an hour apart."""
    return [window_start - timedelta(days=d, hours=1 + h) for d in range(days) for h in range(per_day)]

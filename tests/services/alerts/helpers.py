"""Requests written straight through the ORM, at chosen times and places, for the hot-spot scan."""

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.models import OrgUnit, Request

# Thursday 26 Nov 2026, 17:35 in Ningbo (+08:00) = 09:35 UTC. A scan then looks at the window
# [25 Nov 10:00 UTC, 26 Nov 10:00 UTC) = [25 Nov 18:00, 26 Nov 18:00) +08:00, and its baseline
# is the 28 days [28 Oct 10:00 UTC, 25 Nov 10:00 UTC).
NOW = datetime(2026, 11, 26, 9, 35, tzinfo=UTC)
WINDOW_START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

_tracking = itertools.count(100_000_000_000_001)


async def add_requests(
    session: AsyncSession,
    unit: OrgUnit,
    category_code: str,
    received: list[datetime],
) -> list[Request]:
    """One request per time in `received`, located at `unit` (a grid, community, street, …)."""
    rows = []
    for at in received:
        row = Request(
            tracking_no=str(next(_tracking)),  # 15 digits, unique
            channel="hotline",
            category_code=category_code,
            description="工地夜间施工噪声扰民",
            priority="normal",
            status="received",
            org_unit_id=unit.id,
            unit_path=unit.path,
            citizen_token_hash="0" * 64,
            received_at=at,
            respond_by=at + timedelta(hours=2),
            resolve_by=at + timedelta(days=7),
            created_by="test",
        )
        session.add(row)
        rows.append(row)
    await session.flush()
    return rows


def hours_before(now: datetime, *hours: float) -> list[datetime]:
    return [now - timedelta(hours=h) for h in hours]


def daily_baseline(window_start: datetime, per_day: int, days: int = 28) -> list[datetime]:
    """`per_day` requests on each of the `days` days before the window, an hour apart."""
    return [window_start - timedelta(days=d, hours=1 + h) for d in range(days) for h in range(per_day)]

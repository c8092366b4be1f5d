"""The worker's hot-spot cron: registered every 5 minutes, and it commits what the scan raises."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from routing_worker.jobs import load_all
from routing_worker.tasks import CRONS
from services.models import HotspotAlert
from shared.db import unit_of_work
from tests.factories import make_catalog, make_small_city
from tests.services.alerts.helpers import add_requests, hours_before


def test_the_scan_runs_every_five_minutes():
    load_all()
    [spec] = [c for c in CRONS if c.function.__name__ == "scan_hotspots"]
    assert spec.minute == {0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55}
    assert spec.second == {0}


async def test_the_cron_commits_new_alerts_once():
    from routing_worker.jobs.alert_jobs import scan_hotspots

    # Requests in the last minutes (the job scans at the real current time).
    async with unit_of_work() as session:
        units = await make_small_city(session)
        await make_catalog(session)
        now = datetime.now(UTC)
        await add_requests(
            session, units["330203001001001"], "env.noise", hours_before(now, 0.01, 0.02, 0.03, 0.04, 0.05)
        )

    assert await scan_hotspots({}) == 1
    assert await scan_hotspots({}) == 0
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(HotspotAlert)) == 1

"""The hot-spot scan on a real database: counts per community and top-level category, the rule,
once per window, concurrent scans, and the `alert.raised` webhook.

The small city's communities are 330203001001 (street 330203001), 330203002001 (street 330203002)
and 330205001001; each has one grid. `NOW` is 26 Nov 2026 17:35 +08:00, so the window is
[25 Nov 18:00, 26 Nov 18:00) +08:00 and the baseline the 28 days before it (see helpers.py).
"""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.alerts.service import scan, window_for
from services.models import HotspotAlert, WebhookDelivery
from shared.db import unit_of_work
from tests.factories import make_api_key, make_catalog, make_category, make_small_city, make_subscription
from tests.kit import count_rows
from tests.services.alerts.helpers import NOW, WINDOW_START, add_requests, daily_baseline, hours_before

GRID_A = "330203001001001"
COMMUNITY_A = "330203001001"
GRID_B = "330203002001001"


@pytest.fixture
async def city(session):
    units = await make_small_city(session)
    await make_catalog(session)
    return units


def test_window_ends_at_the_end_of_the_hour_of_now():
    # 09:35 UTC → the window [10:00 the day before, 10:00 today) UTC; baseline from 28 days earlier.
    window = window_for(NOW)
    assert window.start == WINDOW_START
    assert window.end == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert window.baseline_start == datetime(2026, 10, 28, 10, 0, tzinfo=UTC)
    # Any time within the same hour gives the same window; a naive time is refused.
    assert window_for(datetime(2026, 11, 26, 9, 0, tzinfo=UTC)) == window
    assert window_for(datetime(2026, 11, 26, 9, 59, 59, 999999, tzinfo=UTC)) == window
    with pytest.raises(ValueError):
        window_for(datetime(2026, 11, 26, 9, 35))


async def test_burst_of_six_noise_requests_in_a_quiet_community_raises_an_alert(session, city):
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 5, 8, 20))

    alerts = await scan(session, NOW)

    # 6 ≥ 5, baseline 0 → λ = 1/28, P(X ≥ 6) = e^-λ λ^6/6! (1 + λ/7 + …) ≈ 2.7953e-12 < 0.001.
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.community_id == city[COMMUNITY_A].id
    assert alert.category_root == "env"
    assert alert.window_start == WINDOW_START
    assert alert.count_24h == 6
    assert alert.baseline_daily_mean == 0.0
    assert alert.p_value == pytest.approx(2.7953026349e-12, rel=1e-9)
    assert alert.key_group is False
    assert alert.raised_at == NOW


async def test_four_noise_requests_raise_nothing(session, city):
    # 4 < 5 (env is not a key group), however unlikely (P ≈ 6.6e-08).
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 4))
    assert await scan(session, NOW) == []
    assert await count_rows(session, HotspotAlert) == 0


async def test_three_key_group_requests_raise_an_alert(session, city):
    # land.acquisition (征地补偿) is a key group: 3 ≥ 3 and P(X ≥ 3 | 1/28) ≈ 7.392e-06 < 0.001.
    await add_requests(session, city[GRID_A], "land.acquisition", hours_before(NOW, 1, 6, 12))
    [alert] = await scan(session, NOW)
    assert (alert.category_root, alert.count_24h, alert.key_group) == ("land", 3, True)
    assert alert.p_value == pytest.approx(7.3918334813e-06, rel=1e-9)


async def test_two_key_group_requests_raise_nothing(session, city):
    await add_requests(session, city[GRID_A], "land.acquisition", hours_before(NOW, 1, 6))
    assert await scan(session, NOW) == []


async def test_a_key_group_subcategory_lowers_the_threshold_of_its_root(session, city):
    # env is not a key group, env.pollution (环境污染) is: 1 pollution + 2 noise = 3 requests of env,
    # one of them key-group → threshold 3; P(X ≥ 3 | 1/28) ≈ 7.39e-06 → alert.
    await make_category(session, "env.pollution", name="环境污染", key_group=True)
    await add_requests(session, city[GRID_A], "env.pollution", hours_before(NOW, 2))
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 3, 4))
    [alert] = await scan(session, NOW)
    assert (alert.category_root, alert.count_24h, alert.key_group) == ("env", 3, True)


async def test_a_busy_baseline_absorbs_six_requests(session, city):
    # 5 a day for the 28 days before (140 requests) → λ = 5; P(X ≥ 6 | 5) ≈ 0.384 ≥ 0.001.
    await add_requests(session, city[GRID_A], "env.noise", daily_baseline(WINDOW_START, per_day=5))
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 4, 5, 6))
    assert await scan(session, NOW) == []


async def test_a_moderate_baseline_still_alerts_on_a_big_burst(session, city):
    # 1 a day for 28 days → λ = 1; 8 today: P(X ≥ 8 | 1) = 1 − e^-1 Σ_{j<8} 1/j! ≈ 1.02e-05 < 0.001.
    await add_requests(session, city[GRID_A], "env.noise", daily_baseline(WINDOW_START, per_day=1))
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, *range(1, 9)))
    [alert] = await scan(session, NOW)
    assert alert.count_24h == 8
    assert alert.baseline_daily_mean == pytest.approx(1.0)
    assert alert.p_value == pytest.approx(1.0249e-05, rel=1e-3)


async def test_requests_are_counted_per_community_and_only_inside_the_window(session, city):
    # Community A: 3 in the window + 3 just before it (in the baseline) → 3 < 5.
    # Community B: 3 in the window. A's street itself (no community): 6 → never counted.
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3))
    await add_requests(session, city[GRID_A], "env.noise", hours_before(WINDOW_START, 1, 2, 3))
    await add_requests(session, city[GRID_B], "env.noise", hours_before(NOW, 1, 2, 3))
    await add_requests(session, city["330203001"], "env.noise", hours_before(NOW, 1, 2, 3, 4, 5, 6))
    # Requests after `now` (a scan replaying the past) are not counted either.
    await add_requests(session, city[GRID_A], "env.noise", [NOW + timedelta(minutes=5)] * 3)
    assert await scan(session, NOW) == []


async def test_requests_at_the_community_itself_count_for_it(session, city):
    await add_requests(session, city[COMMUNITY_A], "env.noise", hours_before(NOW, 1, 2, 3))
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 4, 5))
    [alert] = await scan(session, NOW)
    assert (alert.community_id, alert.count_24h) == (city[COMMUNITY_A].id, 5)


async def test_categories_roll_up_to_their_root(session, city):
    # 3 env.noise + 2 env = 5 requests of `env`.
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3))
    await add_requests(session, city[GRID_A], "env", hours_before(NOW, 4, 5))
    [alert] = await scan(session, NOW)
    assert (alert.category_root, alert.count_24h) == ("env", 5)


async def test_an_alert_is_raised_once_per_window(session, city):
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 4, 5, 6))
    assert len(await scan(session, NOW)) == 1
    # The same scan again, five minutes later (same window), five hours later and 23 hours later
    # (overlapping windows, with even more requests): nothing new.
    assert await scan(session, NOW) == []
    assert await scan(session, NOW + timedelta(minutes=5)) == []
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW + timedelta(hours=5), 1, 2))
    assert await scan(session, NOW + timedelta(hours=5)) == []
    assert await scan(session, NOW + timedelta(hours=23)) == []
    assert await count_rows(session, HotspotAlert) == 1


async def test_a_new_burst_the_next_day_raises_a_new_alert(session, city):
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 4, 5, 6))
    [first] = await scan(session, NOW)
    # 24 h later: a new window [26 Nov 10:00, 27 Nov 10:00) UTC. Its baseline holds yesterday's 6
    # → λ = 6/28 ≈ 0.214; 6 new requests: P(X ≥ 6 | 0.214) ≈ 1.12e-07 < 0.001.
    later = NOW + timedelta(hours=24)
    await add_requests(session, city[GRID_A], "env.noise", hours_before(later, 1, 2, 3, 4, 5, 6))
    [second] = await scan(session, later)
    assert second.window_start == first.window_start + timedelta(hours=24)
    assert second.baseline_daily_mean == pytest.approx(6 / 28)
    assert second.p_value == pytest.approx(1.1194704e-07, rel=1e-6)


async def test_each_community_and_category_gets_its_own_alert(session, city):
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 4, 5))
    await add_requests(session, city[GRID_A], "land.acquisition", hours_before(NOW, 1, 2, 3))
    await add_requests(session, city[GRID_B], "env.noise", hours_before(NOW, 1, 2, 3, 4, 5))
    alerts = await scan(session, NOW)
    assert sorted((a.community_id, a.category_root) for a in alerts) == sorted(
        [
            (city[COMMUNITY_A].id, "env"),
            (city[COMMUNITY_A].id, "land"),
            (city["330203002001"].id, "env"),
        ]
    )


async def test_concurrent_scans_raise_one_alert():
    async with unit_of_work() as session:
        units = await make_small_city(session)
        await make_catalog(session)
        await add_requests(session, units[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 4, 5, 6))

    async def one_scan(now: datetime) -> int:
        async with unit_of_work() as session:
            return len(await scan(session, now))

    # Same window twice, and the neighbouring window (a scan at the hour boundary) twice.
    results = await asyncio.gather(
        one_scan(NOW), one_scan(NOW), one_scan(NOW + timedelta(minutes=25)), one_scan(NOW + timedelta(minutes=26))
    )
    assert sorted(results) == [0, 0, 0, 1]
    async with unit_of_work() as session:
        assert await count_rows(session, HotspotAlert) == 1


async def test_a_new_alert_is_announced_by_webhook_once(session, city):
    key, _ = await make_api_key(session, rights=("webhooks:manage",))
    await make_subscription(session, "https://hooks.example.com/a", key=key)
    await make_subscription(session, "https://hooks.example.com/b", key=key, event_types=("request.status_changed",))
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 4, 5, 6))

    [alert] = await scan(session, NOW)
    await scan(session, NOW)

    # One delivery: one alert, one subscription to alert.raised (with for_actor=None every subscriber gets it).
    [delivery] = list(await session.scalars(select(WebhookDelivery)))
    assert delivery.event_type == "alert.raised"
    body = dict(delivery.body)
    assert body.pop("id").startswith("evt_")
    assert body == {
        "type": "alert.raised",
        "occurred_at": "2026-11-26T17:35:00+08:00",
        "alert_id": alert.id,
        "community_code": COMMUNITY_A,
        "community_name": "单位330203001001",
        "category_root": "env",
        "category_name": "生态环境",
        "count_24h": 6,
        "baseline_daily_mean": 0.0,
        "p_value": alert.p_value,
        "key_group": False,
        "window_start": "2026-11-25T18:00:00+08:00",
        "window_end": "2026-11-26T18:00:00+08:00",
        "raised_at": "2026-11-26T17:35:00+08:00",
    }


async def test_an_alert_keeps_the_end_of_its_own_window(session, city):
    """With `hotspots.window_hours` set to 12 the alert's window is 12 h long, and its end says so."""
    from services.config import service as config
    from services.config.schemas import RuleSettings
    from shared.auth import Principal

    admin = Principal(kind="staff", id=1, name="admin", role="admin", scope_path=city["3302"].path)
    rules = RuleSettings.model_validate({"hotspots": {"window_hours": 12}})
    await config.replace(session, admin, rules, 1)
    await session.commit()
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 5, 8))

    [alert] = await scan(session, NOW)
    assert alert.window_end == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert alert.window_start == alert.window_end - timedelta(hours=12)

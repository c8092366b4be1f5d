"""`GET /v1/alerts`: staff see the hot-spot alerts of the communities in their subtree, newest first,
cursor-paged, with times in +08:00.

Alerts are raised by the real scan at `NOW` = 26 Nov 2026 17:35 +08:00 (window from 25 Nov 18:00 +08:00).
"""

from datetime import UTC, datetime, timedelta

import pytest

from services.alerts.service import scan
from services.models import HotspotAlert
from tests.factories import bearer, make_catalog, make_small_city, make_staff
from tests.services.alerts.helpers import NOW, WINDOW_START, add_requests, hours_before

GRID_A = "330203001001001"  # in community 330203001001, street 330203001
GRID_B = "330203002001001"  # in community 330203002001, street 330203002


@pytest.fixture
async def city(session):
    units = await make_small_city(session)
    await make_catalog(session)
    return units


async def raise_two_alerts_in_street_a(session, city) -> list[HotspotAlert]:
    # 6 env.noise (P ≈ 2.8e-12) and 3 land.acquisition (key group, P ≈ 7.4e-06) in community A.
    await add_requests(session, city[GRID_A], "env.noise", hours_before(NOW, 1, 2, 3, 4, 5, 6))
    await add_requests(session, city[GRID_A], "land.acquisition", hours_before(NOW, 1, 2, 3))
    return await scan(session, NOW)


async def test_staff_see_the_alerts_of_their_communities(intake_client, session, city):
    alerts = await raise_two_alerts_in_street_a(session, city)
    clerk = await make_staff(session, "street_a_clerk", "clerk", city["330203001"])
    await session.commit()

    response = await intake_client.get("/v1/alerts", headers=bearer(clerk))

    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    env, land = alerts  # the scan inserts in (community, category root) order
    # Newest first.
    assert [item["id"] for item in body["items"]] == [land.id, env.id]
    by_root = {item["category_root"]: item for item in body["items"]}
    assert by_root["env"] == {
        "id": env.id,
        "community_code": "330203001001",
        "community_name": "单位330203001001",
        "category_root": "env",
        "category_name": "生态环境",
        "count_24h": 6,
        "baseline_daily_mean": 0.0,
        "p_value": pytest.approx(2.7953026349e-12, rel=1e-9),
        "key_group": False,
        "window_start": "2026-11-25T18:00:00+08:00",
        "window_end": "2026-11-26T18:00:00+08:00",
        "raised_at": "2026-11-26T17:35:00+08:00",
    }
    assert (by_root["land"]["category_name"], by_root["land"]["count_24h"], by_root["land"]["key_group"]) == (
        "征地拆迁",
        3,
        True,
    )


async def test_staff_of_another_street_see_nothing(intake_client, session, city):
    await raise_two_alerts_in_street_a(session, city)
    other = await make_staff(session, "street_b_clerk", "clerk", city["330203002"])
    grid_worker = await make_staff(session, "grid_a_handler", "handler", city[GRID_A])
    await session.commit()

    for staff in (other, grid_worker):
        response = await intake_client.get("/v1/alerts", headers=bearer(staff))
        assert response.status_code == 200
        # A street elsewhere, and a grid (an alert is about a whole community, above a grid).
        assert response.json() == {"items": [], "next_cursor": None}


async def test_alerts_are_paged_newest_first(intake_client, session, city):
    admin = await make_staff(session, "city_admin", "admin", city["3302"])
    # Six alerts in community B (rows written directly), inserted out of order so ids do not follow
    # raised_at; two share a raised_at (day 4: env and land), which the id breaks (newer id first).
    for day, root in ((2, "env"), (0, "env"), (4, "env"), (1, "env"), (3, "env"), (4, "land")):
        session.add(
            HotspotAlert(
                community_id=city["330203002001"].id,
                category_root=root,
                window_start=WINDOW_START + timedelta(days=day),
                count_24h=5 + day,
                baseline_daily_mean=0.0,
                p_value=1e-9,
                key_group=root == "land",
                raised_at=NOW + timedelta(days=day),
            )
        )
        await session.flush()
    await session.commit()

    seen: list[tuple[int, str]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await intake_client.get("/v1/alerts", params=params, headers=bearer(admin))
        assert response.status_code == 200
        body = response.json()
        seen += [(item["count_24h"], item["category_root"]) for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    # Newest raised_at first: day 4 (land, inserted last, then env), 3, 2, 1, 0; pages of 2 + 2 + 2 (+ an empty
    # last page: a full page cannot tell whether more follow).
    assert seen == [(9, "land"), (9, "env"), (8, "env"), (7, "env"), (6, "env"), (5, "env")]
    assert pages == 4


async def test_alerts_filter_by_category_root_and_since(intake_client, session, city):
    await raise_two_alerts_in_street_a(session, city)
    # An older alert, raised 3 days before NOW.
    session.add(
        HotspotAlert(
            community_id=city["330203001001"].id,
            category_root="env",
            window_start=WINDOW_START - timedelta(days=3),
            count_24h=7,
            baseline_daily_mean=0.5,
            p_value=1e-5,
            key_group=False,
            raised_at=NOW - timedelta(days=3),
        )
    )
    admin = await make_staff(session, "city_admin", "admin", city["3302"])
    await session.commit()
    headers = bearer(admin)

    response = await intake_client.get("/v1/alerts", params={"category_root": "env"}, headers=headers)
    assert [item["count_24h"] for item in response.json()["items"]] == [6, 7]

    # since 26 Nov 00:00 +08:00 keeps the two raised at 17:35 that day.
    since = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    response = await intake_client.get("/v1/alerts", params={"since": since.isoformat()}, headers=headers)
    assert sorted(item["category_root"] for item in response.json()["items"]) == ["env", "land"]

    response = await intake_client.get(
        "/v1/alerts", params={"since": "2026-11-26T00:00:00+08:00", "category_root": "land"}, headers=headers
    )
    assert [item["category_root"] for item in response.json()["items"]] == ["land"]


async def test_alerts_need_a_staff_login(intake_client):
    response = await intake_client.get("/v1/alerts")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_alerts_refuse_bad_filters(intake_client, session, city):
    admin = await make_staff(session, "city_admin", "admin", city["3302"])
    await session.commit()
    headers = bearer(admin)
    for params in (
        {"category_root": "env.noise"},  # a top-level code only
        {"since": "0001-01-01T00:00:00+14:00"},  # before anything UTC can express
        {"cursor": "not-a-cursor"},
        {"limit": 0},
    ):
        response = await intake_client.get("/v1/alerts", params=params, headers=headers)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")

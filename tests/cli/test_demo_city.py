"""The demo city loads whole into an empty database, and its credentials work."""

import pytest
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from cli.demo.catalog import CATEGORIES
from cli.demo.city import load_demo
from services.models import Category, Department, Member, OrgUnit, ResponsibilityRule, SlaPolicy, Team
from shared.db import unit_of_work


async def _load():
    async with unit_of_work() as session:
        return await load_demo(session)


async def test_demo_city_has_the_promised_shape(session):
    await _load()
    levels = dict((await session.execute(select(OrgUnit.level, func.count()).group_by(OrgUnit.level))).all())
    assert levels["city"] == 1
    assert levels["district"] >= 6
    assert 900 <= levels["grid"] <= 1300
    # Every grid has a team with an on-duty grid worker.
    teams = await session.scalar(select(func.count()).select_from(Team))
    assert teams == levels["grid"]
    on_duty_workers = await session.scalar(
        select(func.count()).select_from(Member).where(Member.team_role == "grid_worker", Member.on_duty.is_(True))
    )
    assert on_duty_workers == levels["grid"]
    assert await session.scalar(select(func.count()).select_from(Category)) == len(CATEGORIES)
    key_groups = set(await session.scalars(select(Category.code).where(Category.key_group.is_(True))))
    assert {
        "env.pollution",
        "housing.demolition",
        "land.acquisition",
        "enterprise.shareholding",
        "hukou.conversion",
    } <= key_groups
    assert await session.scalar(select(func.count()).select_from(SlaPolicy)) >= 5
    # Every department a rule names exists, and each district has its own law-enforcement rule.
    dept_ids = set(await session.scalars(select(Department.id)))
    for rule in await session.scalars(select(ResponsibilityRule)):
        assert {*rule.co_department_ids, *([rule.lead_department_id] if rule.lead_department_id else [])} <= dept_ids
    district_rules = await session.scalar(
        select(func.count())
        .select_from(ResponsibilityRule)
        .join(OrgUnit, OrgUnit.id == ResponsibilityRule.org_unit_id)
        .where(OrgUnit.level == "district")
    )
    assert district_rules == levels["district"]


async def test_city_centre_lies_in_a_stored_grid(session):
    await _load()
    centre = Point(121.55, 29.87)
    grids = (await session.execute(select(OrgUnit.code, OrgUnit.geometry).where(OrgUnit.level == "grid"))).all()
    assert [code for code, geometry in grids if shape(geometry).covers(centre)]


async def test_demo_refuses_a_database_with_data():
    await _load()
    with pytest.raises(RuntimeError):
        await _load()


async def test_printed_credentials_log_in_and_call_the_api(intake_client):
    credentials = await _load()
    lines = credentials.lines()
    assert lines[0].startswith("Admin login: admin ")
    user, password = lines[0].removeprefix("Admin login: ").split(" ")
    r = await intake_client.post("/v1/auth/token", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    r = await intake_client.get(
        "/v1/admin/org-units", params={"level": "district"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert len(r.json()["items"]) == 6
    key = lines[1].removeprefix("API key: ")
    r = await intake_client.get("/v1/me", headers={"X-API-Key": key})
    assert r.status_code == 200
    assert r.json()["kind"] == "integration"
    r = await intake_client.post(
        "/v1/auth/token",
        data={"username": credentials.staff_examples["dispatcher"], "password": credentials.staff_password},
    )
    assert r.status_code == 200

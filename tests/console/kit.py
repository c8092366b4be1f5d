"""What the console's browser tests share: the seeded demo city (`seed_demo`), signing in through the page,
and screenshots (`snap`, when `CONSOLE_SCREENSHOTS` names a folder)."""

import contextlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from shapely.geometry import shape
from sqlalchemy import select, text

from cli.demo.city import load_demo
from services.models import OrgUnit, Request, StaffAccount
from shared.db import get_engine, unit_of_work
from tests.factories import bearer
from tests.kit import drain

DISTRICT = "330203"  # 海曙区: the demo dispatcher `dispatcher_330203` works here
CITIZENS = [("王小明", "13912345678"), ("李秀英", "13787654321"), ("张建国", "13611112222"), ("陈美华", "13533334444")]


@dataclass
class Demo:
    admin_password: str
    staff_password: str
    api_key: str
    period: str
    grids: list[dict[str, Any]]  # the district's first grids: code, name, lat, lon, team name
    needs_dispatch_id: int
    noise_ids: list[int]
    run_id: int | None
    citizen_names: list[str] = field(default_factory=list)
    citizen_phones: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # units per level (with grids)


async def _empty_everything() -> None:
    from services.identity.service import forget_api_keys
    from services.models import Base
    from services.org import geojson
    from services.org.repository import forget_cached
    from services.sla.service import invalidate as invalidate_sla_cache
    from shared.queue import get_queue

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with get_engine().begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await (await get_queue()).flushdb()
    forget_cached()
    forget_api_keys()
    invalidate_sla_cache()
    geojson.forget()


async def seed_demo() -> Demo:
    """An emptied database with the demo city, and some activity: routed requests in 海曙区, a few accepted,
    resolved and evaluated; one unclassified hotline call waiting for a dispatcher; this month's score run,
    published."""
    from intake_api.app import app as intake_app
    from scoring_service.app import app as scoring_app

    await _empty_everything()
    async with unit_of_work() as session:
        credentials = await load_demo(session)
    async with unit_of_work() as session:
        grid_rows = (
            await session.execute(
                select(OrgUnit.code, OrgUnit.name, OrgUnit.geometry)
                .where(OrgUnit.level == "grid", OrgUnit.path.startswith(f"/3302/{DISTRICT}/"))
                .order_by(OrgUnit.code)
                .limit(8)
            )
        ).all()
        counts = {
            level: len((await session.execute(select(OrgUnit.id).where(OrgUnit.level == level))).all())
            for level in ("district", "street", "community", "grid")
        }
        supervisor = await session.scalar(select(StaffAccount).where(StaffAccount.username == "supervisor_city"))
        assert supervisor is not None
        supervisor_headers = bearer(supervisor)
    grids = []
    for code, name, geometry in grid_rows:
        point = shape(geometry).representative_point()
        grids.append({"code": code, "name": name, "lat": round(point.y, 6), "lon": round(point.x, 6)})

    key = {"X-API-Key": credentials.api_key}
    intake = httpx.AsyncClient(transport=httpx.ASGITransport(app=intake_app), base_url="http://intake.test")
    scoring = httpx.AsyncClient(transport=httpx.ASGITransport(app=scoring_app), base_url="http://scoring.test")
    async with intake, scoring:

        async def create(body: dict[str, Any]) -> int:
            answer = await intake.post("/v1/requests", json=body, headers=key)
            assert answer.status_code == 201, answer.text
            return int(answer.json()["id"])

        noise_ids = []
        for i, grid in enumerate(grids[:6]):
            name, phone = CITIZENS[i % len(CITIZENS)]
            noise_ids.append(
                await create(
                    {
                        "channel": "hotline",
                        "category": "env.noise",
                        "description": f"{grid['name']}附近工地夜间施工，噪声很大，影响休息（第{i + 1}次反映）。",
                        "location": {"lat": grid["lat"], "lon": grid["lon"], "address": f"海曙区{grid['name']}"},
                        "citizen": {"name": name, "phone": phone},
                    }
                )
            )
        await create(
            {
                "channel": "app",
                "category": "city.street_light",
                "description": "小区门口路灯不亮已经一周，晚上出行不便。",
                "location": {"lat": grids[6]["lat"], "lon": grids[6]["lon"]},
                "citizen": {"name": CITIZENS[1][0], "phone": CITIZENS[1][1]},
            }
        )
        needs_dispatch_id = await create(
            {
                "channel": "hotline",
                "category": "unknown",
                "description": "反映小区门口有人长期占道摆摊，堵住消防通道，不清楚该找哪个部门。",
                "location": {"lat": grids[0]["lat"], "lon": grids[0]["lon"], "address": f"海曙区{grids[0]['name']}"},
                "citizen": {"name": CITIZENS[2][0], "phone": CITIZENS[2][1]},
            }
        )
        await drain()

        # The first four noise complaints: accepted and resolved by their handlers, evaluated by the citizens
        # through the integration's follow-up call (three satisfied, one not).
        async with unit_of_work() as session:
            handlers: dict[int, int] = {}
            for r in await session.scalars(select(Request).where(Request.id.in_(noise_ids[:4]))):
                assert r.handler_id is not None, f"request {r.id} was not routed to a handler"
                handlers[r.id] = r.handler_id
            staff = {
                s.id: s
                for s in await session.scalars(select(StaffAccount).where(StaffAccount.id.in_(handlers.values())))
            }
        for n, request_id in enumerate(noise_ids[:4]):
            headers = bearer(staff[handlers[request_id]])
            for action, body in (
                ("accept", {"note": "已受理，今晚上门核实"}),
                ("resolve", {"outcome": "resolved", "reply": "已约谈施工方，夜间停工。"}),
            ):
                current = (await intake.get(f"/v1/requests/{request_id}", headers=headers)).json()
                answer = await intake.post(
                    f"/v1/requests/{request_id}/{action}",
                    json=body,
                    headers={**headers, "If-Match": str(current["version"])},
                )
                assert answer.status_code == 200, answer.text
            feedback = {"resolved": n != 3, "satisfaction": "dissatisfied" if n == 3 else "satisfied"}
            answer = await intake.post(f"/v1/requests/{request_id}/feedback", json=feedback, headers=key)
            assert answer.status_code == 200, answer.text
        await drain()

        period = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
        run = await scoring.post("/v1/scores/runs", json={"period": period}, headers=supervisor_headers)
        assert run.status_code == 201, run.text
        run_id = int(run.json()["id"])
        published = await scoring.post(f"/v1/scores/runs/{run_id}/publish", headers=supervisor_headers)
        assert published.status_code == 200, published.text

    return Demo(
        admin_password=credentials.admin_password,
        staff_password=credentials.staff_password,
        api_key=credentials.api_key,
        period=period,
        grids=grids,
        needs_dispatch_id=needs_dispatch_id,
        noise_ids=noise_ids,
        run_id=run_id,
        citizen_names=[name for name, _ in CITIZENS],
        citizen_phones=[phone for _, phone in CITIZENS],
        counts=counts,
    )


# ---- in the browser ---------------------------------------------------------------------------------------


async def sign_in(page: Any, username: str, password: str) -> None:
    """Sign in through the console's own form and wait for the first page after it."""
    await page.goto("/console/login")
    await page.fill("#login-username", username)
    await page.fill("#login-password", password)
    await page.click("form.login button[type=submit]")
    await page.wait_for_selector("#sign-out:not([hidden])")
    await page.wait_for_url(re.compile(r".*/console/(?!login)[a-z]+.*"))


async def sign_out(page: Any) -> None:
    await page.click("#sign-out")
    await page.wait_for_selector("#login-username")


SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


async def snap(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save a PNG of the page as `<CONSOLE_SCREENSHOTS>/<name>.png` (nothing when the variable is unset)."""
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test helper; one mkdir)
    # Let the map's and lists' requests settle (best effort: a dialog waiting for input may keep one open).
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("networkidle", timeout=3_000)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def digits_groups(tracking_no: str) -> str:
    """A tracking number as the console shows it: three groups of five digits."""
    return re.sub(r"(\d{5})(?=\d)", r"\1 ", tracking_no)

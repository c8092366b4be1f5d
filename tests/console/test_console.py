"""The console in a real browser (headless Chromium) against the real platform with the demo city.

The tests share the module's seeded city (tests/console/conftest.py) and run in this order: the dispatcher
reassigns the unclassified call, the handler finds it in the queue, accepts and resolves it; the session
expiry re-prompt keeps what was typed; intake warns of a duplicate; the leaders' dashboard draws every
district; the public page shows no personal data.
"""

import re

import pytest
from playwright.async_api import expect
from sqlalchemy import select, update

from services.models import CoTask, OrgUnit, Request, RequestEvent, StaffAccount
from shared.db import unit_of_work
from tests.console.kit import DISTRICT, Demo, digits_groups, sign_in, sign_out, snap

pytestmark = pytest.mark.browser


async def _staff(username: str) -> StaffAccount:
    async with unit_of_work() as session:
        staff = await session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        assert staff is not None
        return staff


async def _request(request_id: int) -> Request:
    async with unit_of_work() as session:
        request = await session.get(Request, request_id)
        assert request is not None
        return request


async def _set_active(staff_id: int, active: bool) -> None:
    async with unit_of_work() as session:
        await session.execute(update(StaffAccount).where(StaffAccount.id == staff_id).values(active=active))


async def _event_kinds(request_id: int) -> list[tuple[str, str]]:
    async with unit_of_work() as session:
        rows = await session.execute(
            select(RequestEvent.kind, RequestEvent.actor)
            .where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.seq)
        )
        return [(kind, actor) for kind, actor in rows]


async def test_the_login_page_works_by_keyboard_alone_and_shows_focus(new_page, demo: Demo):
    page = await new_page()
    await page.goto("/console/")
    await page.wait_for_selector("#login-username")
    await snap(page, "01-login")
    # The username field has focus on arrival; Tab, typing and Enter sign in.
    assert await page.evaluate("document.activeElement.id") == "login-username"
    await page.keyboard.type("dispatcher_330203")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "login-password"
    # Keyboard focus is drawn: a solid outline on the focused field.
    assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    await page.keyboard.type(demo.staff_password)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/board")
    # The dispatcher sees the dispatcher's pages only.
    nav = await page.locator("#nav a").all_inner_texts()
    assert nav == ["派单台", "我的待办", "受理登记", "领导驾驶舱", "公示"]
    # A wrong password says so, in the form.
    await sign_out(page)
    await page.fill("#login-username", "dispatcher_330203")
    await page.fill("#login-password", "wrong-password")
    await page.press("#login-password", "Enter")
    await page.wait_for_selector("#login-error:has-text('用户名或密码错误')")


async def test_dispatcher_reassigns_and_the_handler_accepts_and_resolves(new_page, demo: Demo):
    target = demo.grids[3]
    page = await new_page()
    await sign_in(page, "dispatcher_330203", demo.staff_password)
    await page.wait_for_url("**/console/board")
    # The board: the unclassified call waits in 待派单, the map draws every grid of the district.
    item = page.locator(f"#board-list li[data-request-id='{demo.needs_dispatch_id}']")
    await item.wait_for()
    assert "占道摆摊" in await item.inner_text()
    async with unit_of_work() as session:
        district_grids = len(
            (
                await session.execute(
                    select(OrgUnit.id).where(OrgUnit.level == "grid", OrgUnit.path.startswith(f"/3302/{DISTRICT}/"))
                )
            ).all()
        )
    await expect(page.locator("#board-map path.unit-grid")).to_have_count(district_grids)
    await page.wait_for_selector("#board-map path.request-marker")
    assert await page.locator(".stat[data-tab='needs_dispatch'] strong").inner_text() == "1"
    await snap(page, "02-dispatch-board")

    # Open it; reassign it to the target grid's team, to its grid worker, chosen from the directory.
    await item.locator("a").click()
    await page.wait_for_selector("#citizen-words")
    assert await page.locator("[data-action='reassign']").is_visible()
    assert await page.locator("[data-action='classify']").is_visible()
    await snap(page, "03-request-detail-dispatcher")
    await page.click("[data-action='reassign']")
    await page.fill("#f-query", target["name"])
    option = page.locator("#f-target option", has_text=f"{target['name']}服务团队")
    await option.wait_for(state="attached")
    await page.select_option("#f-target", value=await option.get_attribute("value"))
    handler = await _staff(f"gw_{target['code']}")
    await page.locator(f"#f-member option[value='{handler.id}']").wait_for(state="attached")
    await page.select_option("#f-member", value=str(handler.id))
    await page.fill("#f-note", "占道经营属网格巡查范围，请网格员现场处置")
    await snap(page, "04-reassign-dialog", full_page=False)
    await page.click("#form-reassign button[type=submit]")
    await page.wait_for_selector("#main .badge.status:has-text('已派单')")
    request = await _request(demo.needs_dispatch_id)
    assert (request.status, request.handler_id) == ("assigned", handler.id)
    dispatcher = await _staff("dispatcher_330203")
    assert ("reassigned", f"staff:{dispatcher.id}") in await _event_kinds(demo.needs_dispatch_id)

    # The handler signs in and finds it in 我承办的, with its SLA standing and working time left.
    await sign_out(page)
    await sign_in(page, f"gw_{target['code']}", demo.staff_password)
    await page.wait_for_url("**/console/queue")
    mine = page.locator(f"#queue-list li[data-request-id='{demo.needs_dispatch_id}']")
    await mine.wait_for()
    text = await mine.inner_text()
    assert "正常" in text and "剩余工作时间" in text
    assert await page.locator("#nav a").all_inner_texts() == ["我的待办", "受理登记", "公示"]
    await snap(page, "05-handler-queue")

    await mine.locator("a").click()
    await page.wait_for_selector("[data-action='accept']")
    # A handler is offered a handler's actions, not a dispatcher's.
    assert await page.locator("[data-action='reassign']").count() == 0
    await page.click("[data-action='accept']")
    await page.fill("#f-note", "已签收，马上到现场")
    await page.click("#form-accept button[type=submit]")
    await page.wait_for_selector("#main .badge.status:has-text('办理中')")
    await page.click("[data-action='resolve']")
    await page.select_option("#f-outcome", "resolved")
    await page.fill("#f-reply", "已联系市场监管与城管，摊位已清理，消防通道已畅通。")
    await page.click("#form-resolve button[type=submit]")
    await page.wait_for_selector("#main .badge.status:has-text('已办结')")
    # The whole trail, as a timeline, checked.
    await page.wait_for_selector("#timeline li[data-kind='resolved']")
    assert await page.locator("text=轨迹校验完整").count() == 1
    await snap(page, "06-request-detail-resolved")
    request = await _request(demo.needs_dispatch_id)
    assert request.status == "resolved"
    kinds = await _event_kinds(demo.needs_dispatch_id)
    assert ("accepted", f"staff:{handler.id}") in kinds
    assert ("resolved", f"staff:{handler.id}") in kinds


async def test_an_expired_session_asks_for_the_password_and_keeps_the_work(new_page, demo: Demo):
    request_id = demo.noise_ids[4]
    request = await _request(request_id)
    async with unit_of_work() as session:
        handler = await session.get(StaffAccount, request.handler_id)
        assert handler is not None
    page = await new_page()
    await sign_in(page, handler.username, demo.staff_password)
    await page.goto(f"/console/requests/{request_id}")
    await page.click("[data-action='note']")
    note = "已电话联系施工单位，约定明日上午现场核查"
    await page.fill("#f-text", note)
    # The token runs out while the note is being written (a token the API no longer accepts).
    await page.evaluate(
        "() => { const s = JSON.parse(sessionStorage.getItem('minqing.session'));"
        " s.token = s.token.slice(0, -4) + 'AAAA'; sessionStorage.setItem('minqing.session', JSON.stringify(s)); }"
    )
    await page.reload()
    # A page loaded with a token the API refuses asks for the password before showing anything.
    await page.wait_for_selector("#relogin[open]")
    await page.fill("#relogin-password", demo.staff_password)
    await page.click("#relogin-form button[type=submit]")
    await page.wait_for_selector("#relogin[open]", state="detached")
    await page.wait_for_selector("[data-action='note']")
    await page.click("[data-action='note']")
    await page.fill("#f-text", note)
    # While the page is open, the server stops accepting the token in memory (here: the account is suspended
    # for a moment, which every call re-reads, as an expired token would be refused).
    await _set_active(handler.id, False)
    # Without leaving the page: submitting gets a 401, the password dialog opens over the note dialog,
    # and after signing in again the same call is retried, with the text that was typed.
    await page.click("#form-note button[type=submit]")
    await page.wait_for_selector("#relogin[open]")
    assert await page.input_value("#f-text") == note
    await snap(page, "07-session-expired", full_page=False)
    await _set_active(handler.id, True)
    await page.fill("#relogin-password", "not-the-password")
    await page.click("#relogin-form button[type=submit]")
    await page.wait_for_selector("#relogin-error:has-text('用户名或密码错误')")
    await page.fill("#relogin-password", demo.staff_password)
    await page.click("#relogin-form button[type=submit]")
    await page.wait_for_selector(f"#timeline li:has-text('{note}')")
    async with unit_of_work() as session:
        notes = (
            await session.scalars(
                select(RequestEvent.note).where(RequestEvent.request_id == request_id, RequestEvent.kind == "note")
            )
        ).all()
    assert notes == [note]


async def test_dispatcher_adds_a_co_unit_and_the_co_unit_replies_from_its_queue(new_page, demo: Demo):
    request_id = demo.noise_ids[4]
    page = await new_page()
    await sign_in(page, "dispatcher_330203", demo.staff_password)
    await page.goto(f"/console/requests/{request_id}")
    await page.click("[data-action='joint']")
    await page.select_option("#f-kind", "department")
    await page.fill("#f-query", "执法")
    option = page.locator("#f-target option[value='330203-CG']")
    await option.wait_for(state="attached")
    await page.select_option("#f-target", "330203-CG")
    await page.fill("#f-note", "请区综合行政执法局协助核查工地夜间施工许可")
    await page.click("#form-joint button[type=submit]")
    await page.wait_for_selector("#main dd:has-text('海曙区综合行政执法局')")
    request = await _request(request_id)
    assert request.co_department_ids

    # A member of the co-department finds it under 会办任务 and answers on its part.
    await sign_out(page)
    await sign_in(page, "dept_330203-CG_1", demo.staff_password)
    await page.wait_for_url("**/console/queue")
    await page.click("#tab-co")
    item = page.locator(f"#queue-list li[data-request-id='{request_id}']")
    await item.wait_for()
    await item.locator("a").click()
    await page.click("[data-action='co_reply']")
    reply = "经核查，该工地夜间施工许可已过期，已责令停工。"
    await page.fill("#f-reply", reply)
    await page.check("#f-public")
    await page.click("#form-co_reply button[type=submit]")
    await page.wait_for_selector(f"#timeline li:has-text('{reply}')")
    async with unit_of_work() as session:
        task = await session.scalar(select(CoTask).where(CoTask.request_id == request_id))
        assert task is not None
        assert (task.status, task.reply, task.reply_public) == ("replied", reply, True)


async def test_intake_warns_of_a_duplicate_and_shows_the_tracking_number(new_page, demo: Demo):
    page = await new_page()
    await sign_in(page, "clerk_city", demo.staff_password)
    await page.wait_for_url("**/console/intake")
    # The category picker searches in Chinese.
    await page.fill("#in-category-search", "噪声")
    await page.click("#in-category-options li[data-code='env.noise']")
    assert "env.noise" in await page.inner_text("#in-category-chosen")
    # A click on the map sets the location.
    await page.wait_for_selector("#intake-map path.unit-community")
    await page.click("#intake-map", position={"x": 300, "y": 230})
    assert await page.input_value("#in-lat") != ""
    assert await page.input_value("#in-lon") != ""
    # Where an open noise complaint already is (50 m rule): typed coordinates.
    grid = demo.grids[5]
    await page.fill("#in-lat", str(grid["lat"]))
    await page.fill("#in-lon", str(grid["lon"]))
    await page.dispatch_event("#in-lon", "change")
    await page.fill("#in-description", "工地晚上一直施工，吵得睡不着")
    await page.fill("#in-name", "赵六")
    await page.fill("#in-phone", "13800138000")
    await page.click("#in-submit")
    warning = page.locator("#dup-warning")
    await warning.wait_for()
    earlier = await _request(demo.noise_ids[5])
    assert digits_groups(earlier.tracking_no) in await warning.inner_text()
    await snap(page, "08-intake-duplicate-warning")
    # Nothing was created by the check; submitting anyway links it to the original.
    await page.click("#in-submit")
    await page.wait_for_selector("#tracking-no")
    shown = (await page.inner_text("#tracking-no")).strip()
    assert re.fullmatch(r"\d{5} \d{5} \d{5}", shown)
    async with unit_of_work() as session:
        created = await session.scalar(select(Request).where(Request.tracking_no == shown.replace(" ", "")))
        assert created is not None
        assert (created.status, created.duplicate_of_id, created.channel) == ("duplicate", earlier.id, "window")
    assert await page.locator("text=已并入原工单").count() == 1
    await snap(page, "09-intake-created")

    # A new matter elsewhere: no warning, created at once.
    await page.click("#intake-next")
    await page.fill("#in-category-search", "路灯")
    await page.click("#in-category-options li[data-code='city.street_light']")
    await page.fill("#in-description", "公园东门两盏路灯不亮")
    await page.fill("#in-address", "海曙区公园东门")
    await page.fill("#in-lat", str(demo.grids[7]["lat"]))
    await page.fill("#in-lon", str(demo.grids[7]["lon"]))
    await page.click("#in-submit")
    await page.wait_for_selector("#tracking-no")


async def test_the_leaders_dashboard_draws_every_unit_and_drills_down(new_page, demo: Demo):
    page = await new_page()
    await sign_in(page, "supervisor_city", demo.staff_password)
    await page.wait_for_url("**/console/dashboard")
    districts = demo.counts["district"]
    await expect(page.locator("#dash-map path.unit-district")).to_have_count(districts)
    await expect(page.locator("#rankings-table tbody tr")).to_have_count(districts)
    # 海曙区 has the evaluations: its satisfaction rate shows with n and the Wilson interval.
    haishu = page.locator(f"#rankings-table tr[data-code='{DISTRICT}']")
    row = await haishu.inner_text()
    assert "n=4" in row, row
    assert re.search(r"\[\d+\.\d%–\d+\.\d%\]", row), row
    await page.wait_for_selector("#dash-trends svg circle")
    await snap(page, "10-leaders-dashboard")

    # Every number opens its breakdown.
    await haishu.locator("td.num button.numlink").first.click()
    await page.wait_for_selector(f"#dash-breakdown:has-text('run #{demo.run_id}')")

    # CSV download of the level.
    async with page.expect_download() as download_info:
        await page.click("#dash-csv")
    download = await download_info.value
    csv_text = (await download.path()).read_text(encoding="utf-8-sig")
    assert csv_text.startswith("period,")
    assert f",{DISTRICT}," in csv_text

    # Drill down: a click on 海曙区 draws its streets.
    async with unit_of_work() as session:
        streets = len(
            (
                await session.execute(
                    select(OrgUnit.id).where(OrgUnit.level == "street", OrgUnit.path.startswith(f"/3302/{DISTRICT}/"))
                )
            ).all()
        )
    await page.locator(f"#dash-map path[data-code='{DISTRICT}']").click()
    await expect(page.locator("#dash-map path.unit-street")).to_have_count(streets)
    await expect(page.locator("#rankings-table tbody tr")).to_have_count(streets)
    await snap(page, "11-leaders-dashboard-streets")
    await page.click("#dash-up")
    await expect(page.locator("#dash-map path.unit-district")).to_have_count(districts)


async def test_the_public_page_needs_no_login_and_shows_no_personal_data(new_page, demo: Demo):
    page = await new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    await page.goto("/console/public")
    districts = demo.counts["district"]
    await expect(page.locator("#pub-map path.unit-district")).to_have_count(districts)
    await expect(page.locator("#pub-scores-table tbody tr")).to_have_count(districts)
    await page.wait_for_selector("#pub-status:has-text('公布时间')")
    await snap(page, "12-public-disclosure")
    body = await page.inner_text("body")
    html = await page.content()
    for name in demo.citizen_names:
        assert name not in html
    for phone in demo.citizen_phones:
        assert phone not in html and phone[-4:] not in body
    assert not re.search(r"1\d{10}|1\d\d\*{4}\d{4}", html)
    # Nothing but the console's own files, the public boundaries and the public scores was asked for.
    paths = [re.sub(r"^https?://[^/]+", "", u) for u in urls]
    assert all(p.startswith(("/console/", "/v1/geo/units")) for p in paths), paths
    assert any(p.startswith("/console/scoring/v1/public/scores") for p in paths)
    assert not any("/v1/requests" in p or "/v1/scores/" in p for p in paths)


async def test_pages_work_at_phone_width(new_page, demo: Demo):
    page = await new_page(width=375, height=740)
    await page.goto("/console/public")
    await page.wait_for_selector("#pub-scores-table")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await snap(page, "13-public-375px")
    await sign_in(page, f"gw_{demo.grids[4]['code']}", demo.staff_password)
    await page.wait_for_selector("#queue-list li")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await snap(page, "14-handler-queue-375px")


async def test_english_labels_are_a_click_away(new_page, demo: Demo):
    page = await new_page()
    await page.goto("/console/login")
    await page.click("#lang-toggle")
    await page.wait_for_selector("h1:has-text('Staff sign-in')")
    assert await page.get_attribute("html", "lang") == "en"
    await sign_in(page, "dispatcher_330203", demo.staff_password)
    assert "Dispatch board" in await page.locator("#nav").inner_text()
    await page.wait_for_selector("#board-list li")
    await snap(page, "15-dispatch-board-english")
    await page.click("#lang-toggle")
    await page.wait_for_selector("#nav a:has-text('派单台')")

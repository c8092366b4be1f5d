"""The console's browser tests: the real platform with the demo city, driven by headless Chromium.

* The intake API (which serves the console) and the scoring service run in uvicorn processes on free ports
  (`tests.fuzz.uvicorn_server`) on the test database and Redis; the routing worker runs in burst mode in
  this process (`tests.kit.drain`) whenever a test has queued routing.
* The demo city (`cli/demo`) is loaded once per module, with a little activity on top (`tests/console/kit.py`):
  routed requests, some resolved and evaluated, a score run for this month, published. The tests of a module
  share that state (the usual per-test truncation is replaced here), so they run in file order.
* Chromium is Debian's (`/usr/bin/chromium`, or `MINQING_CHROMIUM`), driven by Playwright (pinned in the dev
  extras); no browser is downloaded. Without it the tests are skipped, unless `MINQING_REQUIRE_BROWSER=1`
  (`.ci/run` sets it, and installs `chromium`), when they fail.
* `CONSOLE_SCREENSHOTS=<dir>` makes the tests save a PNG of every page they visit there
  (`make screenshots` → docs/console/).
"""

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

# Nothing that reads the settings is imported here at the top: pytest loads this file before the root
# conftest points the settings at the test database (tests/console/kit.py is imported in the fixtures).
CHROMIUM = os.environ.get("MINQING_CHROMIUM", "/usr/bin/chromium")


def _chromium_or_skip() -> str:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).is_file():
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set MINQING_CHROMIUM)"
    if os.environ.get("MINQING_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
async def clean_state(demo: Any) -> AsyncIterator[None]:
    """Replaces the suite's per-test truncation: the module's tests share the seeded demo city."""
    yield


@pytest.fixture(scope="module")
async def demo(migrated_database: None) -> Any:
    """The demo city with some activity, in an emptied database (loaded once per module): a `kit.Demo`."""
    from tests.console.kit import seed_demo

    return await seed_demo()


@pytest.fixture(scope="module")
def platform(demo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The scoring service and the intake API (with the console), each in its own uvicorn process."""
    from tests.fuzz import uvicorn_server

    logs = tmp_path_factory.mktemp("console-servers")
    with contextlib.ExitStack() as stack:
        scoring = stack.enter_context(uvicorn_server("scoring_service.app:app", logs / "scoring.log"))
        env = {**os.environ, "CONSOLE_SCORING_URL": scoring}
        intake = stack.enter_context(uvicorn_server("intake_api.app:app", logs / "intake.log", env))
        yield {"intake": intake, "scoring": scoring}


@pytest.fixture(scope="module")
async def browser(platform: dict[str, str]) -> AsyncIterator[Any]:
    executable = _chromium_or_skip()
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=15_000)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def new_page(browser: Any, platform: dict[str, str]) -> AsyncIterator[Any]:
    """A factory of pages in fresh browser contexts (no shared session), 1280 × 900 unless told; a script
    error on any of them fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    async def make(width: int = 1280, height: int = 900) -> Any:
        context = await browser.new_context(
            base_url=platform["intake"],
            viewport={"width": width, "height": height},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        await context.close()
    assert errors == [], f"script errors in the console: {errors}"

"""The intake API serves the web console (console/, docs/console.md) from the platform itself: its shell on
every page path, its files, the pinned vendor files through an allow-list, its settings, the working time
left to deadlines, and nothing from outside (Content-Security-Policy)."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.app import NODE_MODULES, STATIC_DIR, VENDOR_FILES, content_security_policy
from services.sla import service as sla
from tests.kit import problem

PAGES = ("/console/", "/console/login", "/console/board", "/console/queue", "/console/intake", "/console/dashboard")


async def test_every_page_path_answers_the_shell_with_a_strict_policy(intake_client):
    for path in (*PAGES, "/console/public", "/console/requests/42"):
        answer = await intake_client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("text/html")
        assert '<main id="main"' in answer.text
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "connect-src 'self';" in policy
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "http" not in policy  # no outside host (no tile server configured)
        assert answer.headers["x-frame-options"] == "DENY"
    redirect = await intake_client.get("/console", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/console/"


async def test_the_shell_and_scripts_load_nothing_from_outside(intake_client):
    shell = (await intake_client.get("/console/")).text
    for url in re.findall(r'(?:src|href)="([^"]+)"', shell):
        assert url.startswith(("/console/", "#", "data:")), url
        if url.startswith("/console/"):
            assert (await intake_client.get(url)).status_code == 200, url
    scripts = sorted((STATIC_DIR / "js").rglob("*.js"))
    assert scripts
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        imports = re.findall(r'^import .* from "([^"]+)";$', text, re.MULTILINE)
        assert all(target.startswith("./") or target.startswith("../") for target in imports), script
        assert "://" not in text.replace("http://www.w3.org/2000/svg", ""), script
        served = await intake_client.get(f"/console/static/{script.relative_to(STATIC_DIR).as_posix()}")
        assert served.status_code == 200
        assert "javascript" in served.headers["content-type"]
        assert served.headers["cache-control"] == "no-cache"


async def test_vendor_files_come_from_the_pinned_package_through_an_allow_list(intake_client):
    if not (NODE_MODULES / "leaflet").is_dir():
        pytest.fail("console/node_modules is missing: run `make install` (npm ci in console/)")
    package = (NODE_MODULES / "leaflet" / "package.json").read_text()
    assert '"version": "1.9.4"' in package
    for url, relative in VENDOR_FILES.items():
        answer = await intake_client.get(f"/console/vendor/{url}")
        assert answer.status_code == 200, url
        assert answer.content == (NODE_MODULES / relative).read_bytes()
    for refused in ("leaflet/package.json", "leaflet/dist/leaflet-src.js", "../package.json", "../../pyproject.toml"):
        problem(await intake_client.get(f"/console/vendor/{refused}"), 404)


async def test_the_console_settings(intake_client):
    config = (await intake_client.get("/console/config.json")).json()
    assert config["tile_url"] == ""
    assert config["scoring_base"] == "/console/scoring"
    assert config["token_ttl_seconds"] == 900


@pytest.mark.pure
def test_a_configured_tile_server_is_the_only_outside_host_allowed():
    policy = content_security_policy("https://tiles.example.gov.cn/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://tiles.example.gov.cn;" in policy
    assert "connect-src 'self';" in policy and "script-src 'self';" in policy
    assert "img-src 'self' data: blob: https://*.tile.example.org:8443;" in content_security_policy(
        "https://{s}.tile.example.org:8443/{z}/{x}/{y}.png"
    )
    assert "http" not in content_security_policy("javascript:alert(1)")


async def test_the_scoring_proxy_forwards_only_the_scoring_reads(intake_client):
    # Only GETs under /v1/scores/, /v1/rankings and /v1/public/ are forwarded (the browser tests read them
    # through it); anything else of the scoring service, or of any other service, is not.
    for path in ("v1/admin/staff", "v1/requests", "openapi.json", "docs", "v1/auth/token", "v1/scores/../admin"):
        problem(await intake_client.get(f"/console/scoring/{path}"), 404)
    problem(await intake_client.post("/console/scoring/v1/scores/runs", json={}), 405)


async def test_working_time_left_follows_the_sla_calendar(intake_client, session, setup):
    calendar = await sla.calendar(session)
    now = datetime.now(UTC)
    ahead, behind = now + timedelta(days=3), now - timedelta(days=2)
    answer = await intake_client.get(
        "/console/api/working-left", params=[("until", ahead.isoformat()), ("until", behind.isoformat())]
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    expected_ahead = calendar.working_minutes_between(now, ahead)
    expected_behind = -calendar.working_minutes_between(behind, now)
    # The server's "now" is a moment later than ours: at most a minute of working time apart.
    assert abs(items[0]["working_minutes"] - expected_ahead) <= 1
    assert abs(items[1]["working_minutes"] - expected_behind) <= 1
    assert items[1]["working_minutes"] <= 0 <= items[0]["working_minutes"]
    problem(await intake_client.get("/console/api/working-left"), 422)


@pytest.mark.pure
def test_the_package_lock_pins_exact_versions():
    root = Path(__file__).resolve().parents[2] / "console"
    manifest = json.loads((root / "package.json").read_text())
    lock = json.loads((root / "package-lock.json").read_text())
    for name, version in manifest["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), (name, version)
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
        assert lock["packages"][f"node_modules/{name}"]["integrity"].startswith("sha512-")

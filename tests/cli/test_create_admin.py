"""`python -m cli create-admin`: the first administrator of a deployment without the demo data.

The command runs as a real subprocess against the suite's database; the account it creates
then logs in through the intake API.
"""

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple"


def create_admin(
    *args: str, stdin: str | None = None, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command; `env` adds variables to the test environment (None: removes one)."""
    environment = {**os.environ}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        [sys.executable, "-m", "cli", "create-admin", *args],
        cwd=ROOT,
        env=environment,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
    )


async def login(client: Any, username: str, password: str) -> Any:
    return await client.post("/v1/auth/token", data={"username": username, "password": password})


async def me(client: Any, username: str, password: str) -> dict[str, Any]:
    token = await login(client, username, password)
    assert token.status_code == 200, token.text
    answer = await client.get("/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def staff_count(session: Any) -> int:
    from services.models import StaffAccount

    return int(await session.scalar(select(func.count()).select_from(StaffAccount)))


async def add_city(session: Any) -> None:
    from services.models import OrgUnit

    city = OrgUnit(code="3302", name="宁波市", level="city", path="/3302/")
    session.add(city)
    await session.flush()
    session.add(OrgUnit(code="330203", name="海曙区", level="district", path="/3302/330203/", parent_id=city.id))
    await session.commit()


async def test_an_empty_database_gets_its_city_and_first_admin_who_can_build_the_organisation(
    intake_client: Any, session: Any
) -> None:
    done = create_admin(
        "--username", "first_admin", "--city-code", "3302", "--city-name", "宁波市", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert "Created the city 3302 宁波市" in done.stdout
    assert "Created the admin account 'first_admin', scoped to 3302 宁波市" in done.stdout

    account = await me(intake_client, "first_admin", PASSWORD)
    assert (account["kind"], account["role"], account["scope_code"]) == ("staff", "admin", "3302")
    # A city-wide admin: it can start the organisation below the city, and the city-wide configuration.
    token = (await login(intake_client, "first_admin", PASSWORD)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    district = await intake_client.post(
        "/v1/admin/org-units",
        json={"code": "330203", "name": "海曙区", "level": "district", "parent_code": "3302"},
        headers=headers,
    )
    assert district.status_code == 201, district.text
    key = await intake_client.post(
        "/v1/admin/api-keys",
        json={"name": "hotline", "channels": ["hotline"], "rights": ["requests:create"]},
        headers=headers,
    )
    assert key.status_code == 201, key.text


async def test_an_empty_database_without_a_city_is_refused_clearly(session: Any) -> None:
    done = create_admin("--username", "first_admin", "--password-stdin", stdin=PASSWORD)
    assert done.returncode == 1
    assert "holds no organisation yet" in done.stderr and "--city-code" in done.stderr
    assert await staff_count(session) == 0


async def test_a_generated_password_is_printed_only_when_asked(intake_client: Any, session: Any) -> None:
    await add_city(session)
    refused = create_admin("--username", "ops_admin", "--generate-password")
    assert refused.returncode == 2 and "--show-password" in refused.stderr
    assert await staff_count(session) == 0

    done = create_admin("--username", "ops_admin", "--generate-password", "--show-password")
    assert done.returncode == 0, done.stderr
    login_lines = [line for line in done.stdout.splitlines() if line.startswith("Admin login: ")]
    assert len(login_lines) == 1, done.stdout
    _, _, username, password = login_lines[0].split(" ")
    assert username == "ops_admin" and len(password) >= 20
    assert "Created the city" not in done.stdout
    account = await me(intake_client, "ops_admin", password)
    assert (account["role"], account["scope_code"]) == ("admin", "3302")


async def test_a_password_from_stdin_is_never_printed_and_show_password_does_not_apply(session: Any) -> None:
    await add_city(session)
    refused = create_admin("--username", "ops_admin", "--password-stdin", "--show-password", stdin=PASSWORD)
    assert refused.returncode == 2
    done = create_admin("--username", "ops_admin", "--password-stdin", stdin=PASSWORD + "\r\n")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr and "Admin login" not in done.stdout


async def test_an_existing_username_is_refused_and_keeps_its_password(intake_client: Any, session: Any) -> None:
    await add_city(session)
    assert create_admin("--username", "ops_admin", "--password-stdin", stdin=PASSWORD).returncode == 0
    again = create_admin("--username", "ops_admin", "--password-stdin", stdin="another-long-password")
    assert again.returncode == 1
    assert "'ops_admin' is taken" in again.stderr and "nothing created" in again.stderr
    assert "another-long-password" not in again.stdout + again.stderr
    assert (await login(intake_client, "ops_admin", PASSWORD)).status_code == 200
    assert (await login(intake_client, "ops_admin", "another-long-password")).status_code == 401


async def test_a_too_short_password_is_refused_without_echoing_it(session: Any) -> None:
    await add_city(session)
    done = create_admin("--username", "ops_admin", "--password-stdin", stdin="short-pw\n")
    assert done.returncode == 1
    assert "password: too short: at least 10 characters" in done.stderr
    assert "short-pw" not in done.stdout + done.stderr
    assert await staff_count(session) == 0
    empty = create_admin("--username", "ops_admin", "--password-stdin", stdin="")
    assert empty.returncode == 1 and await staff_count(session) == 0


async def test_the_admin_can_be_scoped_to_one_org_unit(intake_client: Any, session: Any) -> None:
    await add_city(session)
    done = create_admin("--username", "haishu_admin", "--scope", "330203", "--password-stdin", stdin=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert "scoped to 330203 海曙区" in done.stdout
    assert (await me(intake_client, "haishu_admin", PASSWORD))["scope_code"] == "330203"
    unknown = create_admin("--username", "nowhere_admin", "--scope", "999999", "--password-stdin", stdin=PASSWORD)
    assert unknown.returncode == 1 and "999999" in unknown.stderr


async def test_a_second_city_is_refused(session: Any) -> None:
    await add_city(session)
    done = create_admin(
        "--username", "ops_admin", "--city-code", "3303", "--city-name", "别的市", "--password-stdin", stdin=PASSWORD
    )
    assert done.returncode == 1 and "the city already exists (3302 宁波市)" in done.stderr
    assert await staff_count(session) == 0


async def test_it_works_in_production_with_production_keys_and_refuses_development_ones(
    intake_client: Any, session: Any
) -> None:
    production: dict[str, str | None] = {
        "ENV": "production",
        "SECRET_KEY": "production-secret-key-of-more-than-32-characters",
        "PII_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
        "PII_HASH_KEY": "production-pii-hash-key",
    }
    without_pii_keys = {**production, "PII_KEYS": None, "PII_HASH_KEY": None}  # the development defaults
    refused = create_admin("--username", "prod_admin", "--generate-password", "--show-password", env=without_pii_keys)
    assert refused.returncode == 1 and "PII_KEYS and PII_HASH_KEY must be set in production" in refused.stderr
    assert "Admin login" not in refused.stdout

    done = create_admin(
        "--username", "prod_admin", "--city-code", "3302", "--city-name", "宁波市", "--password-stdin",
        stdin=PASSWORD, env=production,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (await me(intake_client, "prod_admin", PASSWORD))["role"] == "admin"

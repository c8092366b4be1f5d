"""API2:2023 Broken Authentication: only valid, current HS256 staff tokens and live API keys get in;
logins are limited against brute force and give nothing away."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import OrgUnit, StaffAccount
from shared.settings import get_settings
from tests.factories import PASSWORD, bearer, make_api_key, make_small_city, make_staff
from tests.kit import PROBLEM
from tests.settings import set_setting


def _claims(staff_id: int, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(staff_id),
        "role": "admin",
        "iss": get_settings().jwt_issuer,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
    }
    claims.update(overrides)
    return claims


def _secret() -> str:
    return get_settings().secret_key.get_secret_value()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.fixture
async def admin(session: AsyncSession) -> StaffAccount:
    units = await make_small_city(session)
    staff = await make_staff(session, "admin", "admin", units["3302"])
    await session.commit()
    return staff


def bad_tokens(staff_id: int) -> dict[str, str]:
    now = datetime.now(UTC)
    valid = jwt.encode(_claims(staff_id), _secret(), algorithm="HS256")
    head, body, _signature = valid.split(".")
    return {
        "expired": jwt.encode(
            _claims(
                staff_id, iat=now - timedelta(hours=1), nbf=now - timedelta(hours=1), exp=now - timedelta(seconds=1)
            ),
            _secret(),
            algorithm="HS256",
        ),
        "forged signature": jwt.encode(_claims(staff_id), "not-the-server-secret-0123456789abcdef", algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{body}.",
        "alg none with signature": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{body}.{_signature}",
        "HS512 with the right secret": jwt.encode(_claims(staff_id), _secret(), algorithm="HS512"),
        "body swapped under a valid signature": f"{head}.{_b64({**_claims(staff_id + 1000), 'iat': 0, 'nbf': 0, 'exp': 2**40})}.{_signature}",
        "wrong issuer": jwt.encode(_claims(staff_id, iss="someone-else"), _secret(), algorithm="HS256"),
        "not an access token": jwt.encode(_claims(staff_id, typ="refresh"), _secret(), algorithm="HS256"),
        "no expiry": jwt.encode(
            {k: v for k, v in _claims(staff_id).items() if k != "exp"}, _secret(), algorithm="HS256"
        ),
        "unknown subject": jwt.encode(_claims(987654), _secret(), algorithm="HS256"),
        "non-numeric subject": jwt.encode(_claims(staff_id, sub="admin"), _secret(), algorithm="HS256"),
        "garbage": "not.a.jwt",
        "empty segments": "..",
    }


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_bad_tokens_are_401_on_both_apps(intake_client: Any, scoring_client: Any, admin: StaffAccount) -> None:
    for name, token in bad_tokens(admin.id).items():
        headers = {"Authorization": f"Bearer {token}"}
        for client, path in ((intake_client, "/v1/admin/staff"), (scoring_client, "/v1/admin/scoring-schemes")):
            answer = await client.get(path, headers=headers)
            assert answer.status_code == 401, (name, path, answer.text)
            assert answer.headers["content-type"] == PROBLEM
            assert answer.headers["www-authenticate"] == "Bearer"
    good = await intake_client.get("/v1/admin/staff", headers=bearer(admin))
    assert good.status_code == 200


async def test_a_deactivated_account_is_refused_at_once_with_its_old_token(
    session: AsyncSession, intake_client: Any, admin: StaffAccount
) -> None:
    headers = bearer(admin)
    assert (await intake_client.get("/v1/me", headers=headers)).status_code == 200
    await session.execute(update(StaffAccount).where(StaffAccount.id == admin.id).values(active=False))
    await session.commit()
    assert (await intake_client.get("/v1/me", headers=headers)).status_code == 401


async def test_revoked_wrong_and_malformed_api_keys_are_401(
    session: AsyncSession, intake_client: Any, admin: StaffAccount
) -> None:
    record, key = await make_api_key(session)
    await session.commit()
    assert (await intake_client.get("/v1/categories", headers={"X-API-Key": key})).status_code == 200
    prefix = key.rsplit("_", 1)[0]
    for wrong in (
        f"{prefix}_{'A' * 43}",  # the right prefix, another secret
        key[:-1] + ("A" if key[-1] != "A" else "B"),
        "mq_000000000000_" + "x" * 43,
        "mq_short_x",
        "not-a-key",
        key + " ",
    ):
        answer = await intake_client.get("/v1/categories", headers={"X-API-Key": wrong})
        assert answer.status_code == 401, (wrong, answer.text)
    revoked = await intake_client.post(f"/v1/admin/api-keys/{record.id}/revoke", headers=bearer(admin))
    assert revoked.status_code == 200, revoked.text
    answer = await intake_client.get("/v1/categories", headers={"X-API-Key": key})
    assert answer.status_code == 401
    form = {"api_key": key, "service_code": "env.noise", "lat": "29.805", "long": "121.505", "description": "噪声"}
    assert (await intake_client.post("/open311/v2/requests.json", data=form)).status_code == 403


async def test_no_credentials_is_401_and_an_empty_bearer_is_not_a_login(intake_client: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic YWRtaW46YWRtaW4="}, {"X-API-Key": ""}):
        answer = await intake_client.get("/v1/requests", headers=headers)
        assert answer.status_code == 401, (headers, answer.text)


async def test_login_answers_alike_for_unknown_users_and_wrong_passwords_and_is_not_cached(
    intake_client: Any, admin: StaffAccount
) -> None:
    unknown = await intake_client.post("/v1/auth/token", data={"username": "nobody", "password": PASSWORD})
    wrong = await intake_client.post("/v1/auth/token", data={"username": "admin", "password": "wrong"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]
    good = await intake_client.post("/v1/auth/token", data={"username": "admin", "password": PASSWORD})
    assert good.status_code == 200
    assert good.headers["cache-control"] == "no-store"
    claims = jwt.decode(good.json()["access_token"], _secret(), algorithms=["HS256"], issuer=get_settings().jwt_issuer)
    assert claims["exp"] - claims["iat"] <= 900
    assert set(claims) <= {"sub", "role", "iss", "iat", "nbf", "exp", "jti", "typ"}, "no personal data in the token"


async def test_login_brute_force_locks_the_account_for_a_window(
    session: AsyncSession, intake_client: Any, admin: StaffAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_setting(monkeypatch, "login_failures_per_user", 3)
    for _ in range(3):
        answer = await intake_client.post("/v1/auth/token", data={"username": "admin", "password": "guess"})
        assert answer.status_code == 401
    # Even the right password is refused while the account is locked, so guessing cannot go on.
    locked = await intake_client.post("/v1/auth/token", data={"username": "ADMIN ", "password": PASSWORD})
    assert locked.status_code == 429, locked.text
    assert int(locked.headers["retry-after"]) > 0
    assert locked.headers["content-type"] == PROBLEM
    # Another account from the same address still logs in.
    city = await session.get(OrgUnit, admin.scope_unit_id)
    assert city is not None
    other = await make_staff(session, "clerk", "clerk", city)
    await session.commit()
    answer = await intake_client.post("/v1/auth/token", data={"username": other.username, "password": PASSWORD})
    assert answer.status_code == 200


async def test_login_brute_force_from_one_address_across_accounts_is_limited(
    intake_client: Any, admin: StaffAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_setting(monkeypatch, "login_failures_per_ip", 4)
    from intake_api.app import app

    elsewhere = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)), base_url="http://intake.test"
    )
    async with elsewhere:
        for n in range(4):
            answer = await intake_client.post("/v1/auth/token", data={"username": f"user{n}", "password": "guess"})
            assert answer.status_code == 401
        answer = await intake_client.post("/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        assert answer.status_code == 429
        # The limit is per address: the admin logs in from elsewhere.
        answer = await elsewhere.post("/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        assert answer.status_code == 200

"""Admin API for staff accounts and API keys, login, and who may call the admin API (SPEC §2, §8)."""

import re
from typing import Any

from tests.factories import PASSWORD, bearer, make_api_key, make_city_admin, make_small_city, make_staff
from tests.kit import PROBLEM, problem

STAFF = "/v1/admin/staff"
KEYS = "/v1/admin/api-keys"
NEW_PASSWORD = "a-long-passphrase-for-tests"


def _staff_body(username: str, role: str, scope_code: str, **extra: Any) -> dict[str, Any]:
    return {
        "username": username,
        "display_name": f"姓名{username}",
        "password": NEW_PASSWORD,
        "role": role,
        "scope_code": scope_code,
        **extra,
    }


async def _login(client, username: str, password: str):
    return await client.post("/v1/auth/token", data={"username": username, "password": password})


def _admin_calls() -> list[tuple[str, str]]:
    """Every (method, concrete path) of the intake API's `/v1/admin` operations, from its OpenAPI."""
    from intake_api.app import app

    calls = []
    for template, operations in app.openapi()["paths"].items():
        if template.startswith("/v1/admin"):
            path = re.sub(r"\{code\}", "3302", template)
            path = re.sub(r"\{[a-z_]+\}", "1", path)
            calls += [(method.upper(), path) for method in sorted(operations)]
    return calls


async def _call(client, method: str, path: str, headers: dict[str, str]):
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = {}
    return await client.request(method, path, **kwargs)


# ---- staff accounts --------------------------------------------------------------------------


async def test_admin_creates_staff_scoped_inside_its_own_subtree(session, intake_client):
    units = await make_small_city(session)
    street_admin = await make_staff(session, "street_admin", "admin", units["330203001"])
    await session.commit()
    r = await intake_client.post(
        STAFF, json=_staff_body("gw_one", "handler", "330203001001001"), headers=bearer(street_admin)
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["username"] == "gw_one"
    assert body["role"] == "handler"
    assert body["scope_code"] == "330203001001001"
    assert body["active"] is True
    assert body["version"] == 1
    assert body["last_login_at"] is None
    assert "password" not in body
    assert "password_hash" not in body
    r = await intake_client.get(f"{STAFF}/{body['id']}", headers=bearer(street_admin))
    assert r.status_code == 200
    assert r.json() == body


async def test_staff_scope_outside_the_admins_subtree_is_not_found(session, intake_client):
    units = await make_small_city(session)
    street_admin = await make_staff(session, "street_admin", "admin", units["330203001"])
    await session.commit()
    auth = bearer(street_admin)
    for scope in ("330203002", "330203", "3302", "330205001001001", "nowhere"):
        problem(await intake_client.post(STAFF, json=_staff_body("gw_x", "handler", scope), headers=auth), 404)
    page = (await intake_client.get(STAFF, headers=auth)).json()
    assert [s["username"] for s in page["items"]] == ["street_admin"]


async def test_duplicate_username_is_a_conflict(session, intake_client):
    _, auth = await make_city_admin(session)
    assert (
        await intake_client.post(STAFF, json=_staff_body("disp", "dispatcher", "330203"), headers=auth)
    ).status_code == 201
    r = await intake_client.post(STAFF, json=_staff_body("disp", "handler", "330205"), headers=auth)
    body = problem(r, 409)
    assert [e["field"] for e in body["errors"]] == ["username"]
    r = await intake_client.post(STAFF, json=_staff_body("city_admin", "handler", "330205"), headers=auth)
    problem(r, 409)


async def test_staff_fields_are_validated(session, intake_client):
    _, auth = await make_city_admin(session)
    body = _staff_body("no spaces!", "superuser", "330203", password="short")
    r = await intake_client.post(STAFF, json=body, headers=auth)
    fields = {e["field"] for e in problem(r, 422)["errors"]}
    assert fields == {"username", "role", "password"}


async def test_new_account_logs_in_and_me_shows_its_role_and_scope(session, intake_client):
    _, auth = await make_city_admin(session)
    created = (
        await intake_client.post(STAFF, json=_staff_body("disp_haishu", "dispatcher", "330203"), headers=auth)
    ).json()
    r = await _login(intake_client, "disp_haishu", NEW_PASSWORD)
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] > 0
    r = await intake_client.get("/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "kind": "staff",
        "id": created["id"],
        "name": "disp_haishu",
        "role": "dispatcher",
        "scope_code": "330203",
        "rights": [],
        "channels": [],
    }
    r = await intake_client.get(f"{STAFF}/{created['id']}", headers=auth)
    assert r.json()["last_login_at"] is not None


async def test_deactivated_account_loses_its_existing_token_at_once(session, intake_client):
    _, auth = await make_city_admin(session)
    created = (await intake_client.post(STAFF, json=_staff_body("clerk1", "clerk", "330205"), headers=auth)).json()
    token = (await _login(intake_client, "clerk1", NEW_PASSWORD)).json()["access_token"]
    own = {"Authorization": f"Bearer {token}"}
    assert (await intake_client.get("/v1/me", headers=own)).status_code == 200
    problem(await intake_client.patch(f"{STAFF}/{created['id']}", json={"active": False}, headers=auth), 428)
    r = await intake_client.patch(f"{STAFF}/{created['id']}", json={"active": False, "version": 1}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert r.json()["version"] == 2
    r = await intake_client.get("/v1/me", headers=own)
    problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    problem(await _login(intake_client, "clerk1", NEW_PASSWORD), 401)
    # Reactivated, the same token works again (deactivation is read fresh on every call).
    r = await intake_client.patch(f"{STAFF}/{created['id']}", json={"active": True, "version": 2}, headers=auth)
    assert r.status_code == 200, r.text
    assert (await intake_client.get("/v1/me", headers=own)).status_code == 200


async def test_role_change_bites_on_the_next_call(session, intake_client):
    units, auth = await make_city_admin(session)
    target = await make_staff(session, "admin2", "admin", units["330203"])
    await session.commit()
    own = bearer(target)
    assert (await intake_client.get(STAFF, headers=own)).status_code == 200
    r = await intake_client.patch(f"{STAFF}/{target.id}", json={"role": "handler", "version": 1}, headers=auth)
    assert r.status_code == 200, r.text
    problem(await intake_client.get(STAFF, headers=own), 403)
    assert (await intake_client.get("/v1/me", headers=own)).json()["role"] == "handler"


async def test_staff_update_is_limited_to_the_admins_subtree(session, intake_client):
    units = await make_small_city(session)
    street_admin = await make_staff(session, "street_admin", "admin", units["330203001"])
    outsider = await make_staff(session, "outsider", "handler", units["330205001"])
    insider = await make_staff(session, "insider", "handler", units["330203001001"])
    await session.commit()
    auth = bearer(street_admin)
    problem(await intake_client.get(f"{STAFF}/{outsider.id}", headers=auth), 404)
    problem(
        await intake_client.patch(f"{STAFF}/{outsider.id}", json={"active": False, "version": 1}, headers=auth), 404
    )
    # Moving an account in scope to a unit outside it is refused too.
    r = await intake_client.patch(f"{STAFF}/{insider.id}", json={"scope_code": "330205", "version": 1}, headers=auth)
    problem(r, 404)
    r = await intake_client.patch(
        f"{STAFF}/{insider.id}", json={"scope_code": "330203001001001", "version": 1}, headers=auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope_code"] == "330203001001001"


async def test_street_admin_lists_only_staff_in_its_subtree(session, intake_client):
    units = await make_small_city(session)
    street_admin = await make_staff(session, "street_admin", "admin", units["330203001"])
    await make_staff(session, "city_admin", "admin", units["3302"])
    await make_staff(session, "district_disp", "dispatcher", units["330203"])
    await make_staff(session, "gw_in", "handler", units["330203001001001"])
    await make_staff(session, "comm_clerk", "clerk", units["330203001001"])
    await make_staff(session, "gw_next_street", "handler", units["330203002001001"])
    await make_staff(session, "gw_other_district", "handler", units["330205001001001"])
    await session.commit()
    r = await intake_client.get(STAFF, headers=bearer(street_admin))
    assert r.status_code == 200, r.text
    assert {s["username"] for s in r.json()["items"]} == {"street_admin", "gw_in", "comm_clerk"}
    assert r.json()["next_cursor"] is None
    r = await intake_client.get(STAFF, params={"role": "handler"}, headers=bearer(street_admin))
    assert [s["username"] for s in r.json()["items"]] == ["gw_in"]


async def test_staff_list_pages_with_a_cursor(session, intake_client):
    units, auth = await make_city_admin(session)
    for i in range(4):
        await make_staff(session, f"gw_{i}", "handler", units["330205001001001"])
    await session.commit()
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await intake_client.get(STAFF, params=params, headers=auth)
        assert r.status_code == 200, r.text
        seen += [s["username"] for s in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["city_admin", "gw_0", "gw_1", "gw_2", "gw_3"]


# ---- login -----------------------------------------------------------------------------------


async def test_wrong_password_and_unknown_user_get_the_same_answer(session, intake_client):
    units = await make_small_city(session)
    await make_staff(session, "gw_known", "handler", units["330203001001001"])
    await make_staff(session, "gw_disabled", "handler", units["330203001001001"], active=False)
    await session.commit()
    assert (await _login(intake_client, "gw_known", PASSWORD)).status_code == 200
    answers = [
        await _login(intake_client, "gw_known", "wrong-password-123"),
        await _login(intake_client, "nobody_here", "wrong-password-123"),
        await _login(intake_client, "nobody_here", PASSWORD),
        await _login(intake_client, "gw_disabled", PASSWORD),
    ]
    for r in answers:
        problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
        assert "access_token" not in r.text
    assert all(r.json() == answers[0].json() for r in answers)


async def test_login_without_form_fields_is_invalid_input(intake_client):
    r = await intake_client.post("/v1/auth/token", data={"username": "x"})
    assert {e["field"] for e in problem(r, 422)["errors"]} == {"password"}


# ---- API keys --------------------------------------------------------------------------------

KEY_BODY = {"name": "81890 hotline", "channels": ["hotline", "app"], "rights": ["requests:create", "requests:read"]}


async def test_api_key_is_shown_once_and_never_listed(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post(KEYS, json=KEY_BODY, headers=auth)
    assert r.status_code == 201, r.text
    created = r.json()
    key = created["key"]
    assert re.fullmatch(r"mq_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", key)
    assert key.split("_")[1] == created["prefix"]
    assert created["channels"] == ["app", "hotline"]
    assert created["rights"] == ["requests:create", "requests:read"]
    assert created["revoked_at"] is None
    r = await intake_client.get(KEYS, headers=auth)
    assert r.status_code == 200
    (listed,) = r.json()
    assert "key" not in listed
    assert "secret_hash" not in listed
    assert listed["prefix"] == created["prefix"]
    assert key not in r.text
    assert key.split("_", 2)[2] not in r.text


async def test_api_key_authenticates_me_until_revoked(session, intake_client):
    _, auth = await make_city_admin(session)
    created = (await intake_client.post(KEYS, json=KEY_BODY, headers=auth)).json()
    own = {"X-API-Key": created["key"]}
    r = await intake_client.get("/v1/me", headers=own)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "kind": "integration",
        "id": created["id"],
        "name": "81890 hotline",
        "role": None,
        "scope_code": None,
        "rights": ["requests:create", "requests:read"],
        "channels": ["app", "hotline"],
    }
    assert (await intake_client.get(KEYS, headers=auth)).json()[0]["last_used_at"] is not None
    r = await intake_client.post(f"{KEYS}/{created['id']}/revoke", headers=auth)
    assert r.status_code == 200, r.text
    revoked_at = r.json()["revoked_at"]
    assert revoked_at is not None
    assert "key" not in r.json()
    r = await intake_client.get("/v1/me", headers=own)
    problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    # Revoking again changes nothing; an unknown key id is 404.
    again = await intake_client.post(f"{KEYS}/{created['id']}/revoke", headers=auth)
    assert again.status_code == 200
    assert again.json()["revoked_at"] == revoked_at
    problem(await intake_client.post(f"{KEYS}/{created['id'] + 100}/revoke", headers=auth), 404)


async def test_malformed_or_unknown_api_keys_are_not_authenticated(session, intake_client):
    _, key = await make_api_key(session)
    await session.commit()
    prefix = key.split("_")[1]
    for bad in (
        "not-a-key",
        "mq_",
        "mq_short_secret",
        f"xx_{prefix}_{key.split('_', 2)[2]}",
        f"mq_{prefix}_wrong-secret",
        f"mq_{'0' * 12}_{key.split('_', 2)[2]}",
        key + "x",
        key[:-1],
    ):
        r = await intake_client.get("/v1/me", headers={"X-API-Key": bad})
        problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
    assert (await intake_client.get("/v1/me", headers={"X-API-Key": key})).status_code == 200


async def test_api_key_fields_are_validated(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post(KEYS, json={**KEY_BODY, "rights": ["requests:delete"]}, headers=auth)
    assert {e["field"] for e in problem(r, 422)["errors"]} == {"rights.0"}
    r = await intake_client.post(KEYS, json={**KEY_BODY, "channels": []}, headers=auth)
    assert {e["field"] for e in problem(r, 422)["errors"]} == {"channels"}
    assert (await intake_client.get(KEYS, headers=auth)).json() == []


async def test_only_city_admins_manage_api_keys(session, intake_client):
    units, city_auth = await make_city_admin(session)
    created = (await intake_client.post(KEYS, json=KEY_BODY, headers=city_auth)).json()
    district_admin = await make_staff(session, "district_admin", "admin", units["330203"])
    await session.commit()
    auth = bearer(district_admin)
    problem(await intake_client.post(KEYS, json=KEY_BODY, headers=auth), 403)
    problem(await intake_client.get(KEYS, headers=auth), 403)
    problem(await intake_client.post(f"{KEYS}/{created['id']}/revoke", headers=auth), 403)
    assert (await intake_client.get("/v1/me", headers={"X-API-Key": created["key"]})).status_code == 200


# ---- who may call the admin API --------------------------------------------------------------


async def test_admin_routes_are_enumerated():
    calls = _admin_calls()
    assert ("POST", "/v1/admin/staff") in calls
    assert ("POST", "/v1/admin/api-keys/1/revoke") in calls
    assert ("PATCH", "/v1/admin/categories/3302") in calls
    assert len(calls) >= 30


async def test_integration_key_gets_403_on_every_admin_endpoint(session, intake_client):
    await make_small_city(session)
    _, key = await make_api_key(
        session, rights=("requests:create", "requests:read", "feedback:create", "webhooks:manage")
    )
    await session.commit()
    for method, path in _admin_calls():
        r = await _call(intake_client, method, path, {"X-API-Key": key})
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM


async def test_handler_staff_gets_403_on_every_admin_endpoint(session, intake_client):
    units = await make_small_city(session)
    handler = await make_staff(session, "gw_city", "handler", units["3302"])
    await session.commit()
    for method, path in _admin_calls():
        r = await _call(intake_client, method, path, bearer(handler))
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM


async def test_every_other_staff_role_gets_403_on_admin_endpoints(session, intake_client):
    units = await make_small_city(session)
    for role in ("dispatcher", "clerk", "supervisor", "auditor"):
        staff = await make_staff(session, f"{role}_city", role, units["3302"])
        await session.commit()
        for path in (STAFF, KEYS, "/v1/admin/categories", "/v1/admin/org-units"):
            problem(await intake_client.get(path, headers=bearer(staff)), 403)


async def test_no_credentials_get_401_with_www_authenticate(intake_client):
    for method, path in [*_admin_calls(), ("GET", "/v1/me"), ("GET", "/v1/categories")]:
        r = await _call(intake_client, method, path, {})
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["www-authenticate"] == "Bearer"
    r = await intake_client.get("/v1/me", headers={"Authorization": "Bearer "})
    problem(r, 401)
    r = await intake_client.get("/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    problem(r, 401)


# ---- input that PostgreSQL cannot store ------------------------------------------------------


async def test_nul_character_in_login_is_refused_not_a_500(session, intake_client):
    units = await make_small_city(session)
    await make_staff(session, "gw_known", "handler", units["330203001001001"])
    await session.commit()
    for username, password in (("gw_known\x00", PASSWORD), ("\x00", "x"), ("gw_known", "pass\x00word")):
        r = await _login(intake_client, username, password)
        assert r.status_code in (401, 422), (username, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM


async def test_nul_characters_in_staff_and_key_input_are_invalid_input_not_a_500(session, intake_client):
    _, auth = await make_city_admin(session)
    calls = [
        (STAFF, _staff_body("gw_nul", "handler", "330203", display_name="张\x00三"), {"display_name"}),
        (STAFF, _staff_body("gw_nul", "handler", "3302\x00"), {"scope_code"}),
        (KEYS, {**KEY_BODY, "name": "hotline\x00"}, {"name"}),
    ]
    for url, body, fields in calls:
        r = await intake_client.post(url, json=body, headers=auth)
        answer = problem(r, 422)
        assert {e["field"] for e in answer.get("errors", [])} == fields, answer
    assert [s["username"] for s in (await intake_client.get(STAFF, headers=auth)).json()["items"]] == ["city_admin"]


async def test_login_with_a_malformed_form_body_is_invalid_input(intake_client):
    """A body that cannot be parsed is invalid input (422 on `/v1`), as documented for this operation."""
    r = await intake_client.post(
        "/v1/auth/token", content=b"username=a&password=b", headers={"Content-Type": "multipart/form-data"}
    )
    problem(r, 422)

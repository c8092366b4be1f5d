"""Admin API for the service catalog, the responsibility matrix and SLA policies (SPEC §2)."""

from typing import Any

from services.models import OrgUnit
from tests.factories import (
    bearer,
    make_api_key,
    make_category,
    make_city_admin,
    make_department,
    make_small_city,
    make_staff,
)
from tests.kit import PROBLEM, problem

CATEGORIES = "/v1/admin/categories"
RULES = "/v1/admin/responsibility-rules"
SLA = "/v1/admin/sla-policies"


async def _add_categories(session, *codes: str, inactive: tuple[str, ...] = ()) -> None:
    for code in codes:
        await make_category(session, code, active=code not in inactive)


async def _add_departments(session, scope: OrgUnit, *codes: str) -> None:
    for code in codes:
        await make_department(session, code, scope)


def _fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


# ---- categories ------------------------------------------------------------------------------


def _category(code: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": f"类别{code}", **extra}


async def test_category_is_created_under_an_existing_parent(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post(CATEGORIES, json=_category("env", name_en="Environment"), headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["parent_code"] is None
    assert r.json()["version"] == 1
    assert r.json()["active"] is True
    r = await intake_client.post(
        CATEGORIES, json=_category("env.noise", default_priority="high", key_group=True), headers=auth
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == "env.noise"
    assert body["parent_code"] == "env"
    assert body["default_priority"] == "high"
    assert body["key_group"] is True
    listed = (await intake_client.get(CATEGORIES, headers=auth)).json()
    assert [c["code"] for c in listed] == ["env", "env.noise"]


async def test_category_whose_parent_does_not_exist_is_refused_naming_code(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post(CATEGORIES, json=_category("env.noise"), headers=auth)
    body = problem(r, 422)
    assert _fields(body) == {"code"}
    assert "env" in body["detail"]
    assert (await intake_client.get(CATEGORIES, headers=auth)).json() == []


async def test_duplicate_category_code_is_a_conflict(session, intake_client):
    _, auth = await make_city_admin(session)
    assert (await intake_client.post(CATEGORIES, json=_category("env"), headers=auth)).status_code == 201
    r = await intake_client.post(CATEGORIES, json=_category("env", name="又一个"), headers=auth)
    body = problem(r, 409)
    assert _fields(body) == {"code"}


async def test_malformed_category_code_is_refused_naming_code(session, intake_client):
    _, auth = await make_city_admin(session)
    for code in ("Env", "env..noise", "1env", "env.noise.", ""):
        r = await intake_client.post(CATEGORIES, json=_category(code), headers=auth)
        assert _fields(problem(r, 422)) == {"code"}, code


async def test_list_attribute_without_values_is_refused_naming_the_attribute(session, intake_client):
    _, auth = await make_city_admin(session)
    attributes = [
        {"code": "where", "datatype": "string", "description": "地点"},
        {"code": "source", "datatype": "singlevaluelist", "description": "噪声来源"},
    ]
    r = await intake_client.post(CATEGORIES, json=_category("env", attributes=attributes), headers=auth)
    body = problem(r, 422)
    assert len(body["errors"]) == 1
    assert body["errors"][0]["field"] == "attributes.1"
    assert body["errors"][0]["loc"] == ["body", "attributes", 1]
    assert "values" in body["errors"][0]["msg"]


async def test_values_on_a_non_list_attribute_are_refused(session, intake_client):
    _, auth = await make_city_admin(session)
    attributes = [
        {"code": "where", "datatype": "string", "description": "地点", "values": [{"key": "a", "name": "甲"}]}
    ]
    r = await intake_client.post(CATEGORIES, json=_category("env", attributes=attributes), headers=auth)
    body = problem(r, 422)
    assert body["errors"][0]["field"] == "attributes.0"


async def test_attribute_codes_must_be_unique_within_a_category(session, intake_client):
    _, auth = await make_city_admin(session)
    attribute = {"code": "where", "datatype": "string", "description": "地点"}
    r = await intake_client.post(CATEGORIES, json=_category("env", attributes=[attribute, attribute]), headers=auth)
    assert _fields(problem(r, 422)) == {"attributes"}


async def test_category_attributes_are_stored_as_open311_definitions(session, intake_client):
    _, auth = await make_city_admin(session)
    attributes = [
        {
            "code": "source",
            "datatype": "multivaluelist",
            "description": "噪声来源",
            "required": True,
            "values": [{"key": "construction", "name": "施工"}, {"key": "shop", "name": "商铺"}],
        }
    ]
    r = await intake_client.post(CATEGORIES, json=_category("env", attributes=attributes), headers=auth)
    assert r.status_code == 201, r.text
    (stored,) = r.json()["attributes"]
    assert stored["code"] == "source"
    assert stored["required"] is True
    assert stored["variable"] is True
    assert [v["key"] for v in stored["values"]] == ["construction", "shop"]


async def test_category_update_needs_the_current_version(session, intake_client):
    _, auth = await make_city_admin(session)
    await intake_client.post(CATEGORIES, json=_category("env"), headers=auth)
    url = f"{CATEGORIES}/env"
    problem(await intake_client.patch(url, json={"name": "环境"}, headers=auth), 428)
    problem(await intake_client.patch(url, json={"name": "环境", "version": 5}, headers=auth), 409)
    r = await intake_client.patch(url, json={"name": "环境", "key_group": True, "version": 1}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "环境"
    assert r.json()["key_group"] is True
    assert r.json()["version"] == 2
    # The version read before is stale now; If-Match works like the body field.
    problem(await intake_client.patch(url, json={"name": "旧"}, headers={**auth, "If-Match": '"1"'}), 409)
    r = await intake_client.patch(url, json={"default_priority": "high"}, headers={**auth, "If-Match": '"2"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3
    assert r.json()["name"] == "环境"  # untouched fields keep their values


async def test_updating_an_unknown_category_is_not_found(session, intake_client):
    _, auth = await make_city_admin(session)
    problem(await intake_client.patch(f"{CATEGORIES}/env", json={"name": "x", "version": 1}, headers=auth), 404)


async def test_district_admin_cannot_create_or_change_categories(session, intake_client):
    units = await make_small_city(session)
    await _add_categories(session, "env")
    district_admin = await make_staff(session, "district_admin", "admin", units["330203"])
    await session.commit()
    auth = bearer(district_admin)
    problem(await intake_client.post(CATEGORIES, json=_category("housing"), headers=auth), 403)
    problem(await intake_client.patch(f"{CATEGORIES}/env", json={"name": "x", "version": 1}, headers=auth), 403)
    city_admin = await make_staff(session, "city_admin", "admin", units["3302"])
    await session.commit()
    codes = [c["code"] for c in (await intake_client.get(CATEGORIES, headers=bearer(city_admin))).json()]
    assert codes == ["env"]


async def test_public_catalog_works_with_an_api_key_and_hides_inactive_categories(session, intake_client):
    units = await make_small_city(session)
    await _add_categories(session, "env", "env.noise", "env.dust", inactive=("env.dust",))
    _, key = await make_api_key(session)
    admin = await make_staff(session, "city_admin", "admin", units["3302"])
    await session.commit()
    r = await intake_client.get("/v1/categories", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    assert [c["code"] for c in r.json()] == ["env", "env.noise"]
    # The admin view shows every category, inactive ones included.
    r = await intake_client.get(CATEGORIES, headers=bearer(admin))
    assert {c["code"]: c["active"] for c in r.json()} == {"env": True, "env.dust": False, "env.noise": True}


async def test_deactivating_a_category_hides_it_from_the_public_catalog(session, intake_client):
    _, auth = await make_city_admin(session)
    await intake_client.post(CATEGORIES, json=_category("env"), headers=auth)
    await intake_client.post(CATEGORIES, json=_category("env.noise"), headers=auth)
    r = await intake_client.patch(f"{CATEGORIES}/env.noise", json={"active": False, "version": 1}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    r = await intake_client.get("/v1/categories", headers=auth)
    assert [c["code"] for c in r.json()] == ["env"]


async def test_public_catalog_needs_credentials(intake_client):
    r = await intake_client.get("/v1/categories")
    problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


# ---- responsibility matrix -------------------------------------------------------------------


async def _matrix_setup(session) -> tuple[dict[str, OrgUnit], dict[str, str]]:
    units, auth = await make_city_admin(session)
    await _add_categories(session, "env", "env.noise", "env.pollution", "housing")
    await _add_departments(session, units["3302"], "HB", "CG", "ZJ")
    await session.commit()
    return units, auth


def _rule(category_prefix: str, org_unit_code: str, handler_kind: str = "grid_team", **extra: Any) -> dict[str, Any]:
    return {"category_prefix": category_prefix, "org_unit_code": org_unit_code, "handler_kind": handler_kind, **extra}


async def test_rules_of_each_shape_are_created(session, intake_client):
    _, auth = await _matrix_setup(session)
    bodies = [
        _rule("*", "3302"),
        _rule("env.noise", "330203", "department", lead_department_code="HB"),
        _rule("env.pollution", "330203", "joint", lead_department_code="HB", co_department_codes=["CG", "ZJ"]),
    ]
    created = []
    for body in bodies:
        r = await intake_client.post(RULES, json=body, headers=auth)
        assert r.status_code == 201, r.text
        created.append(r.json())
    assert created[0]["lead_department_code"] is None
    assert created[0]["co_department_codes"] == []
    assert created[1]["handler_kind"] == "department"
    assert created[1]["lead_department_code"] == "HB"
    assert created[2]["lead_department_code"] == "HB"
    assert created[2]["co_department_codes"] == ["CG", "ZJ"]
    assert all(c["version"] == 1 for c in created)
    r = await intake_client.get(f"{RULES}/{created[2]['id']}", headers=auth)
    assert r.status_code == 200
    assert r.json() == created[2]


async def test_rule_of_the_wrong_shape_is_refused(session, intake_client):
    _, auth = await _matrix_setup(session)
    wrong = [
        _rule("env", "330203", "grid_team", lead_department_code="HB"),
        _rule("env", "330203", "grid_team", co_department_codes=["CG"]),
        _rule("env", "330203", "department"),
        _rule("env", "330203", "department", lead_department_code="HB", co_department_codes=["CG"]),
        _rule("env", "330203", "joint", lead_department_code="HB"),
        _rule("env", "330203", "joint", co_department_codes=["CG"]),
        _rule("env", "330203", "joint", lead_department_code="HB", co_department_codes=["HB"]),
        _rule("env", "330203", "joint", lead_department_code="HB", co_department_codes=["CG", "CG"]),
        _rule("env", "330203", "committee"),
    ]
    for body in wrong:
        r = await intake_client.post(RULES, json=body, headers=auth)
        body_out = problem(r, 422)
        assert body_out["errors"], body
    assert (await intake_client.get(RULES, headers=auth)).json() == []


async def test_rule_shape_error_names_a_field(session, intake_client):
    """`errors[]` names each field: a rule's shape error names the kind or department field at fault."""
    _, auth = await _matrix_setup(session)
    shape_fields = {"handler_kind", "lead_department_code", "co_department_codes"}
    for body in (
        _rule("env", "330203", "grid_team", lead_department_code="HB"),
        _rule("env", "330203", "department"),
        _rule("env", "330203", "joint", lead_department_code="HB"),
    ):
        answer = problem(await intake_client.post(RULES, json=body, headers=auth), 422)
        fields = [e["field"] for e in answer["errors"]]
        assert fields, answer
        assert all(f in shape_fields for f in fields), (body, answer)


async def test_rule_naming_an_unknown_department_is_refused_naming_the_field(session, intake_client):
    _, auth = await _matrix_setup(session)
    r = await intake_client.post(
        RULES, json=_rule("env", "330203", "department", lead_department_code="XX"), headers=auth
    )
    assert _fields(problem(r, 422)) == {"lead_department_code"}
    body = _rule("env", "330203", "joint", lead_department_code="HB", co_department_codes=["CG", "NOPE"])
    r = await intake_client.post(RULES, json=body, headers=auth)
    assert _fields(problem(r, 422)) == {"co_department_codes.1"}
    assert (await intake_client.get(RULES, headers=auth)).json() == []


async def test_rule_whose_category_prefix_matches_no_category_is_refused(session, intake_client):
    _, auth = await _matrix_setup(session)
    for prefix in ("transport", "env.nois", "en"):
        r = await intake_client.post(RULES, json=_rule(prefix, "330203"), headers=auth)
        assert _fields(problem(r, 422)) == {"category_prefix"}, prefix
    # A prefix of existing codes (not itself a category) is fine.
    await _add_categories(session, "transport.road")
    await session.commit()
    r = await intake_client.post(RULES, json=_rule("transport", "330203"), headers=auth)
    assert r.status_code == 201, r.text


async def test_rule_equal_on_category_and_unit_is_refused(session, intake_client):
    _, auth = await _matrix_setup(session)
    r = await intake_client.post(RULES, json=_rule("env", "330203"), headers=auth)
    assert r.status_code == 201, r.text
    r = await intake_client.post(
        RULES, json=_rule("env", "330203", "department", lead_department_code="HB"), headers=auth
    )
    assert _fields(problem(r, 409)) == {"category_prefix"}
    # More specific on either axis is not a tie.
    assert (await intake_client.post(RULES, json=_rule("env.noise", "330203"), headers=auth)).status_code == 201
    assert (await intake_client.post(RULES, json=_rule("env", "330203001"), headers=auth)).status_code == 201
    assert len((await intake_client.get(RULES, headers=auth)).json()) == 3


async def test_rule_at_a_unit_outside_the_admins_scope_is_not_found(session, intake_client):
    units, city_auth = await _matrix_setup(session)
    district_admin = await make_staff(session, "district_admin", "admin", units["330203"])
    await session.commit()
    auth = bearer(district_admin)
    r = await intake_client.post(RULES, json=_rule("env", "330205001"), headers=auth)
    problem(r, 404)
    r = await intake_client.post(RULES, json=_rule("env", "nowhere"), headers=auth)
    problem(r, 404)
    r = await intake_client.post(RULES, json=_rule("env", "330203001"), headers=auth)
    assert r.status_code == 201, r.text
    # A rule the city admin made elsewhere is invisible to the district admin.
    other = (await intake_client.post(RULES, json=_rule("env", "330205"), headers=city_auth)).json()
    problem(await intake_client.get(f"{RULES}/{other['id']}", headers=auth), 404)
    problem(await intake_client.delete(f"{RULES}/{other['id']}", headers=auth), 404)
    assert [x["org_unit_code"] for x in (await intake_client.get(RULES, headers=auth)).json()] == ["330203001"]
    problem(await intake_client.get(RULES, params={"under_code": "330205"}, headers=auth), 404)
    assert (await intake_client.get(f"{RULES}/{other['id']}", headers=city_auth)).status_code == 200


async def test_rules_list_filters_by_unit_subtree(session, intake_client):
    _, auth = await _matrix_setup(session)
    for unit in ("3302", "330203", "330203001", "330203001001", "330203002", "330205"):
        r = await intake_client.post(RULES, json=_rule("env", unit), headers=auth)
        assert r.status_code == 201, r.text

    async def listed(under: str) -> list[str]:
        r = await intake_client.get(RULES, params={"under_code": under}, headers=auth)
        assert r.status_code == 200, r.text
        return [x["org_unit_code"] for x in r.json()]

    assert await listed("330203") == ["330203", "330203001", "330203001001", "330203002"]
    assert await listed("330203001") == ["330203001", "330203001001"]
    assert await listed("330205") == ["330205"]
    assert len(await listed("3302")) == 6
    problem(await intake_client.get(RULES, params={"under_code": "999"}, headers=auth), 404)


async def test_deleted_rule_is_gone_and_its_slot_is_free_again(session, intake_client):
    _, auth = await _matrix_setup(session)
    rule = (await intake_client.post(RULES, json=_rule("env", "330203"), headers=auth)).json()
    r = await intake_client.delete(f"{RULES}/{rule['id']}", headers=auth)
    assert r.status_code == 204
    assert r.content == b""
    problem(await intake_client.get(f"{RULES}/{rule['id']}", headers=auth), 404)
    problem(await intake_client.delete(f"{RULES}/{rule['id']}", headers=auth), 404)
    assert (await intake_client.get(RULES, headers=auth)).json() == []
    r = await intake_client.post(
        RULES, json=_rule("env", "330203", "department", lead_department_code="HB"), headers=auth
    )
    assert r.status_code == 201, r.text


# ---- SLA policies ----------------------------------------------------------------------------


def _policy(category_prefix: str = "*", priority: str | None = "normal", **extra: Any) -> dict[str, Any]:
    return {
        "name": "一般诉求",
        "category_prefix": category_prefix,
        "priority": priority,
        "respond_amount": 2,
        "respond_unit": "working_hours",
        "resolve_amount": 7,
        "resolve_unit": "working_days",
        **extra,
    }


async def test_sla_policy_is_created_and_listed(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post(SLA, json=_policy(), headers=auth)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["category_prefix"] == "*"
    assert body["priority"] == "normal"
    assert body["respond_amount"] == 2
    assert body["respond_unit"] == "working_hours"
    assert body["resolve_amount"] == 7
    assert body["resolve_unit"] == "working_days"
    assert body["version"] == 1
    r = await intake_client.post(
        SLA,
        json=_policy("env", None, name="环境", respond_amount=0.5, resolve_amount=24, resolve_unit="clock_hours"),
        headers=auth,
    )
    assert r.status_code == 201, r.text
    assert r.json()["priority"] is None
    assert r.json()["respond_amount"] == 0.5
    listed = (await intake_client.get(SLA, headers=auth)).json()
    assert {(p["category_prefix"], p["priority"]) for p in listed} == {("*", "normal"), ("env", None)}


async def test_sla_policy_for_the_same_prefix_and_priority_is_a_conflict(session, intake_client):
    _, auth = await make_city_admin(session)
    assert (await intake_client.post(SLA, json=_policy("env", "high"), headers=auth)).status_code == 201
    body = problem(await intake_client.post(SLA, json=_policy("env", "high", name="另一个"), headers=auth), 409)
    assert _fields(body) == {"category_prefix"}
    # Another priority, or any priority (null), is another slot.
    assert (await intake_client.post(SLA, json=_policy("env", "normal"), headers=auth)).status_code == 201
    assert (await intake_client.post(SLA, json=_policy("env", None), headers=auth)).status_code == 201
    # Two "any priority" policies for one prefix tie as well.
    problem(await intake_client.post(SLA, json=_policy("env", None, name="重复"), headers=auth), 409)
    no_priority = {k: v for k, v in _policy("env", None).items() if k != "priority"}
    problem(await intake_client.post(SLA, json=no_priority, headers=auth), 409)
    assert len((await intake_client.get(SLA, headers=auth)).json()) == 3


async def test_sla_policy_update_needs_the_current_version(session, intake_client):
    _, auth = await make_city_admin(session)
    policy = (await intake_client.post(SLA, json=_policy(), headers=auth)).json()
    url = f"{SLA}/{policy['id']}"
    problem(await intake_client.patch(url, json={"resolve_amount": 5}, headers=auth), 428)
    problem(await intake_client.patch(url, json={"resolve_amount": 5, "version": 2}, headers=auth), 409)
    r = await intake_client.patch(
        url, json={"resolve_amount": 5, "resolve_unit": "clock_hours", "version": 1}, headers=auth
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resolve_amount"] == 5
    assert body["resolve_unit"] == "clock_hours"
    assert body["respond_amount"] == 2
    assert body["version"] == 2
    problem(await intake_client.patch(url, json={"name": "x", "version": 1}, headers=auth), 409)
    listed = (await intake_client.get(SLA, headers=auth)).json()
    assert listed[0]["resolve_amount"] == 5
    assert listed[0]["version"] == 2


async def test_sla_policy_is_deleted(session, intake_client):
    _, auth = await make_city_admin(session)
    policy = (await intake_client.post(SLA, json=_policy(), headers=auth)).json()
    r = await intake_client.delete(f"{SLA}/{policy['id']}", headers=auth)
    assert r.status_code == 204
    assert (await intake_client.get(SLA, headers=auth)).json() == []
    problem(await intake_client.delete(f"{SLA}/{policy['id']}", headers=auth), 404)
    problem(await intake_client.patch(f"{SLA}/{policy['id']}", json={"name": "x", "version": 1}, headers=auth), 404)
    # The slot is free again.
    assert (await intake_client.post(SLA, json=_policy(), headers=auth)).status_code == 201


async def test_sla_policy_with_an_invalid_unit_or_amount_is_refused_naming_the_field(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post(SLA, json=_policy(respond_unit="weeks"), headers=auth)
    assert _fields(problem(r, 422)) == {"respond_unit"}
    r = await intake_client.post(SLA, json=_policy(resolve_amount=0), headers=auth)
    assert _fields(problem(r, 422)) == {"resolve_amount"}
    r = await intake_client.post(SLA, json=_policy(priority="urgent"), headers=auth)
    assert _fields(problem(r, 422)) == {"priority"}
    r = await intake_client.post(SLA, json=_policy(category_prefix="Env!"), headers=auth)
    assert _fields(problem(r, 422)) == {"category_prefix"}
    policy = (await intake_client.post(SLA, json=_policy(), headers=auth)).json()
    r = await intake_client.patch(
        f"{SLA}/{policy['id']}", json={"resolve_unit": "fortnights", "version": 1}, headers=auth
    )
    assert _fields(problem(r, 422)) == {"resolve_unit"}
    assert (await intake_client.get(SLA, headers=auth)).json()[0]["version"] == 1


async def test_district_admin_cannot_change_sla_policies(session, intake_client):
    units, city_auth = await make_city_admin(session)
    policy = (await intake_client.post(SLA, json=_policy(), headers=city_auth)).json()
    district_admin = await make_staff(session, "district_admin", "admin", units["330203"])
    await session.commit()
    auth = bearer(district_admin)
    problem(await intake_client.post(SLA, json=_policy("env"), headers=auth), 403)
    problem(await intake_client.patch(f"{SLA}/{policy['id']}", json={"name": "x", "version": 1}, headers=auth), 403)
    problem(await intake_client.delete(f"{SLA}/{policy['id']}", headers=auth), 403)
    assert len((await intake_client.get(SLA, headers=city_auth)).json()) == 1


async def test_sla_amount_that_rounds_to_zero_is_invalid_input_not_a_conflict(session, intake_client):
    """Amounts are stored with two decimals: 0.001 h passes `> 0` but is stored as 0."""
    _, auth = await make_city_admin(session)
    r = await intake_client.post(SLA, json=_policy(respond_amount=0.001), headers=auth)
    assert {e["field"] for e in problem(r, 422).get("errors", [])} == {"respond_amount"}
    assert (await intake_client.get(SLA, headers=auth)).json() == []


async def test_sla_policy_answer_shows_the_amounts_as_stored(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post(SLA, json=_policy(respond_amount=0.015, resolve_amount=7.125), headers=auth)
    assert r.status_code in (201, 422), r.text
    if r.status_code == 201:
        (stored,) = (await intake_client.get(SLA, headers=auth)).json()
        assert (r.json()["respond_amount"], r.json()["resolve_amount"]) == (
            stored["respond_amount"],
            stored["resolve_amount"],
        )


# ---- input that PostgreSQL cannot store ------------------------------------------------------


async def test_nul_characters_in_configuration_input_are_invalid_input_not_a_500(session, intake_client):
    """PostgreSQL text cannot hold U+0000; such input must be refused as invalid, never a 500."""
    _, auth = await _matrix_setup(session)
    calls = [
        ("POST", CATEGORIES, _category("newcat", name="噪声\x00")),
        ("POST", CATEGORIES, _category("newcat", description="x\x00y")),
        ("PATCH", f"{CATEGORIES}/env", {"name": "环境\x00", "version": 1}),
        ("POST", SLA, _policy(name="一般\x00")),
        ("GET", "/v1/admin/org-units?q=%00", None),
    ]
    for method, url, body in calls:
        r = await intake_client.request(method, url, json=body, headers=auth)
        assert r.status_code == 422, (method, url, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM
    r = await intake_client.get(CATEGORIES, headers=auth)
    assert "newcat" not in {c["code"] for c in r.json()}

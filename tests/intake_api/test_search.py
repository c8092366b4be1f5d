"""Free-text search in Chinese and the phone lookup, through the API: ranked, in scope, with the list's
filters, paged, and the lookup audited."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.lifecycle.events import append_event
from services.models import AdminAuditEntry, CoTask
from services.search import service as search_service
from services.search.service import phone_reference
from shared.crypto import field_cipher, keyed_hash
from tests.factories import (
    bearer,
    make_catalog,
    make_department,
    make_member,
    make_request,
    make_small_city,
    make_staff,
)
from tests.kit import problem


@pytest.fixture
async def city(session: Any) -> dict[str, Any]:
    """The small city, its catalog, a city dispatcher and a dispatcher of district 330205 only."""
    units = await make_small_city(session)
    await make_catalog(session)
    city_dispatcher = await make_staff(session, "city_dispatcher", "dispatcher", units["3302"])
    district_dispatcher = await make_staff(session, "district_dispatcher", "dispatcher", units["330205"])
    await session.commit()
    return {"units": units, "city": bearer(city_dispatcher), "district": bearer(district_dispatcher)}


async def _request(session: Any, grid: Any, description: str, **fields: Any) -> int:
    request = await make_request(session, unit=grid, description=description, **fields)
    await session.commit()
    return int(request.id)


def _ids(body: dict[str, Any]) -> list[int]:
    return [hit["request"]["id"] for hit in body["items"]]


async def test_chinese_words_are_found_as_written_and_ranked_description_first(
    intake_client: Any, session: Any, city: dict[str, Any]
) -> None:
    grid = city["units"]["330203001001001"]
    in_description = await _request(session, grid, "幸福小区3幢楼顶漏水，物业推诿不修")
    in_address = await _request(session, grid, "物业不作为", address="宁波市漏水巷12号")
    in_notes = await _request(session, grid, "物业不作为，多次反映无果")
    await append_event(session, in_notes, "note", "staff:1", note="现场查看确有漏水")
    await _request(session, grid, "漏…水不是一个词")
    await _request(session, grid, "路灯不亮")
    await session.commit()

    answer = await intake_client.get("/v1/search/requests", params={"q": "漏水"}, headers=city["city"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert _ids(body) == [in_description, in_address, in_notes]
    assert [hit["matched"] for hit in body["items"]] == [["description"], ["address"], ["notes"]]
    assert body["ranked"] == 3 and body["window_full"] is False
    assert body["items"][0]["score"] > body["items"][1]["score"] > body["items"][2]["score"]


async def test_every_word_must_occur_and_full_width_text_is_found_by_plain_words(
    intake_client: Any, session: Any, city: dict[str, Any]
) -> None:
    grid = city["units"]["330203001001001"]
    both = await _request(session, grid, "幸福小区３号楼夜间施工噪音扰民")
    await _request(session, grid, "幸福小区垃圾没人清运")
    answer = await intake_client.get("/v1/search/requests", params={"q": "幸福小区 3号楼 噪音"}, headers=city["city"])
    assert _ids(answer.json()) == [both]


async def test_staff_find_nothing_outside_their_subtree(intake_client: Any, session: Any, city: dict[str, Any]) -> None:
    inside = await _request(session, city["units"]["330205001001001"], "广场舞噪音扰民")
    await _request(session, city["units"]["330203001001001"], "广场舞噪音扰民")
    district = await intake_client.get("/v1/search/requests", params={"q": "噪音"}, headers=city["district"])
    assert _ids(district.json()) == [inside]
    assert (
        len(_ids((await intake_client.get("/v1/search/requests", params={"q": "噪音"}, headers=city["city"])).json()))
        == 2
    )
    outside = await intake_client.get(
        "/v1/search/requests", params={"q": "噪音", "org_unit_code": "330203"}, headers=city["district"]
    )
    problem(outside, 404)


async def test_staff_also_find_what_they_handle_and_their_units_co_handle_outside_their_subtree(
    intake_client: Any, session: Any, city: dict[str, Any]
) -> None:
    units = city["units"]
    handler = await make_staff(session, "handler_330205", "handler", units["330205"])
    department = await make_department(session, "zjj", units["330205"])
    await make_member(session, handler, department=department)
    inside = await _request(session, units["330205001001001"], "井盖缺失有安全隐患")
    handled = await _request(session, units["330203001001001"], "井盖缺失有安全隐患", handler_id=handler.id)
    co_handled = await _request(session, units["330203001001001"], "井盖缺失有安全隐患")
    await _request(session, units["330203001001001"], "井盖缺失有安全隐患")  # neither: not found
    session.add(
        CoTask(request_id=co_handled, department_id=department.id, respond_by=datetime.now(UTC), created_by="t")
    )
    await session.commit()
    answer = await intake_client.get("/v1/search/requests", params={"q": "井盖缺失"}, headers=bearer(handler))
    assert answer.status_code == 200, answer.text
    assert sorted(_ids(answer.json())) == sorted([inside, handled, co_handled])
    listed = await intake_client.get("/v1/requests", params={"limit": 100}, headers=bearer(handler))
    assert sorted(r["id"] for r in listed.json()["items"]) == sorted([inside, handled, co_handled])


async def test_the_index_narrows_to_the_subtree_category_and_status_without_losing_a_match(
    intake_client: Any, session: Any, city: dict[str, Any]
) -> None:
    units = city["units"]
    grid = units["330205001001001"]
    wanted = await _request(session, grid, "小区路灯损坏", category_code="env", status="assigned")
    below = await _request(session, grid, "小区路灯损坏", category_code="env.noise", status="assigned")
    await _request(session, grid, "小区路灯损坏", category_code="utilities", status="assigned")
    await _request(session, grid, "小区路灯损坏", category_code="env", status="closed")
    await _request(session, units["330203001001001"], "小区路灯损坏", category_code="env", status="assigned")
    params = {"q": "路灯损坏", "category": "env", "status": "assigned", "org_unit_code": "330205"}
    answer = await intake_client.get("/v1/search/requests", params=params, headers=city["city"])
    assert sorted(_ids(answer.json())) == [wanted, below]


async def test_the_filters_of_the_list_combine_with_the_words(
    intake_client: Any, session: Any, city: dict[str, Any]
) -> None:
    grid = city["units"]["330203001001001"]
    old = datetime.now(UTC) - timedelta(days=40)
    closed = await _request(session, grid, "施工噪音扰民", status="closed")
    received = await _request(session, grid, "施工噪音扰民")
    earlier = await _request(session, grid, "施工噪音扰民", received_at=old)
    await _request(session, grid, "施工噪音扰民", category_code="utilities")
    search = "/v1/search/requests"
    by_status = await intake_client.get(search, params={"q": "噪音", "status": "closed"}, headers=city["city"])
    assert _ids(by_status.json()) == [closed]
    by_category = await intake_client.get(search, params={"q": "噪音", "category": "env"}, headers=city["city"])
    assert set(_ids(by_category.json())) == {closed, received, earlier}
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    recent = await intake_client.get(
        search, params={"q": "噪音", "category": "env", "received_from": since}, headers=city["city"]
    )
    assert set(_ids(recent.json())) == {closed, received}


async def test_pages_follow_the_ranking_without_repeats_and_new_requests_do_not_shift_them(
    intake_client: Any, session: Any, city: dict[str, Any]
) -> None:
    grid = city["units"]["330203001001001"]
    made = [await _request(session, grid, "噪音" + "扰民" * n) for n in range(7)]
    seen: list[int] = []
    scores: list[float] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "噪音", "limit": 3} | ({"cursor": cursor} if cursor else {})
        body = (await intake_client.get("/v1/search/requests", params=params, headers=city["city"])).json()
        seen += _ids(body)
        scores += [hit["score"] for hit in body["items"]]
        if len(seen) == 3:
            await _request(session, grid, "噪音")  # arrives between pages: not on the next ones
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == made
    assert scores == sorted(scores, reverse=True)
    assert seen[0] == made[0]  # the shortest, most focused text first


async def test_the_window_walks_back_day_by_day_to_the_oldest_match_and_stops_when_full(
    intake_client: Any, session: Any, city: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = city["units"]["330203001001001"]
    now = datetime.now(UTC)
    ages = [0, 1, 2, 5, 40, 400]  # days: one in each of the first steps (1, 3, 9, 27 days), then far back
    made = {age: await _request(session, grid, "楼道堆放杂物", received_at=now - timedelta(days=age)) for age in ages}
    await _request(session, grid, "楼道灯不亮", received_at=now - timedelta(days=3))
    search = "/v1/search/requests"
    body = (await intake_client.get(search, params={"q": "堆放杂物"}, headers=city["city"])).json()
    assert sorted(_ids(body)) == sorted(made.values()) and body["window_full"] is False

    monkeypatch.setattr(search_service, "WINDOW", 3)
    body = (await intake_client.get(search, params={"q": "楼道 杂物"}, headers=city["city"])).json()
    assert set(_ids(body)) == {made[0], made[1], made[2]} and body["window_full"] is True  # the newest three
    before = (now - timedelta(days=30)).isoformat()
    body = (await intake_client.get(search, params={"q": "杂物", "received_to": before}, headers=city["city"])).json()
    assert set(_ids(body)) == {made[40], made[400]} and body["window_full"] is False


async def test_short_empty_and_malformed_input_is_a_422_naming_the_field(
    intake_client: Any, city: dict[str, Any]
) -> None:
    for q in ("水", "，", "a b"):
        body = problem(await intake_client.get("/v1/search/requests", params={"q": q}, headers=city["city"]), 422)
        assert body["errors"][0]["loc"] == ["query", "q"], body
    bad_cursor = await intake_client.get(
        "/v1/search/requests", params={"q": "噪音", "cursor": "bm90LWEtY3Vyc29y"}, headers=city["city"]
    )
    assert problem(bad_cursor, 422)["errors"][0]["loc"] == ["query", "cursor"]
    problem(await intake_client.get("/v1/search/requests", params={"q": "噪音"}), 401)


async def test_integrations_may_not_search(intake_client: Any, session: Any, city: dict[str, Any]) -> None:
    from tests.factories import make_api_key

    _, key = await make_api_key(session)
    await session.commit()
    problem(await intake_client.get("/v1/search/requests", params={"q": "噪音"}, headers={"X-API-Key": key}), 403)


async def test_a_callers_history_is_found_by_phone_in_scope_masked_and_audited(
    intake_client: Any, session: Any, city: dict[str, Any]
) -> None:
    cipher = field_cipher()
    phone = "13812345678"
    mine = {
        "citizen_phone_hash": keyed_hash(phone),
        "citizen_phone_enc": cipher.encrypt(phone),
        "citizen_name_enc": cipher.encrypt("张三"),
    }
    first = await _request(session, city["units"]["330205001001001"], "路灯不亮", **mine)
    second = await _request(session, city["units"]["330205001001001"], "路灯又坏了", **mine)
    await _request(session, city["units"]["330203001001001"], "别的区", **mine)
    await _request(session, city["units"]["330205001001001"], "别人的", citizen_phone_hash=keyed_hash("13900000000"))

    answer = await intake_client.post("/v1/search/by-phone", json={"phone": "138-1234-5678"}, headers=city["district"])
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["id"] for i in items] == [second, first]
    assert {i["citizen"]["phone"] for i in items} == {"138****5678"}
    assert phone not in answer.text
    entry = (
        await session.scalars(select(AdminAuditEntry).where(AdminAuditEntry.action == "requests.phone_lookup"))
    ).one()
    assert entry.target_id == phone_reference(keyed_hash(phone))
    assert entry.after == {"shown": 2, "request_ids": [second, first]}
    assert phone not in str(entry.before) + str(entry.after) + str(entry.target_id)

    bad = await intake_client.post("/v1/search/by-phone", json={"phone": "hello"}, headers=city["district"])
    assert problem(bad, 422)["errors"][0]["loc"][-1] == "phone"

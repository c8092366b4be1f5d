"""Exports of requests: CSV and GeoJSON in scope with the filters, streamed; names and phones only for
dispatchers and audited; the open-data file anonymised and coarsened."""

import asyncio
import csv
import io
import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from sqlalchemy import select

from services.models import AdminAuditEntry
from services.search import exports
from shared.crypto import field_cipher, keyed_hash
from tests.factories import bearer, make_catalog, make_request, make_small_city, make_staff
from tests.kit import problem

PHONE = "13812345678"


@pytest.fixture
async def city(session: Any) -> dict[str, Any]:
    units = await make_small_city(session)
    await make_catalog(session)
    cipher = field_cipher()
    citizen: dict[str, Any] = {
        "citizen_phone_hash": keyed_hash(PHONE),
        "citizen_phone_enc": cipher.encrypt(PHONE),
        "citizen_name_enc": cipher.encrypt("张三"),
    }
    grid = units["330203001001001"]
    noise = await make_request(
        session,
        unit=grid,
        description="=工地夜间施工噪音",
        address="幸福小区3幢",
        lat=29.80537,
        lon=121.50481,
        **citizen,
    )
    hidden = await make_request(session, unit=grid, description="保密的诉求", anonymous=True, **citizen)
    key_group = await make_request(session, unit=grid, description="征地补偿", category_code="land.acquisition")
    other = await make_request(session, unit=units["330205001001001"], description="别的区", lat=29.801, lon=121.541)
    staff = {
        role: bearer(await make_staff(session, f"{role}_{scope}", role, units[scope]))
        for role, scope in (("dispatcher", "3302"), ("supervisor", "330203"), ("handler", "3302"))
    }
    await session.commit()
    return {"units": units, "staff": staff, "ids": (noise.id, hidden.id, key_group.id, other.id)}


def _csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def test_a_csv_export_holds_the_scope_with_the_filters_and_no_citizen_fields(
    intake_client: Any, city: dict[str, Any]
) -> None:
    noise, hidden, key_group, _ = city["ids"]
    answer = await intake_client.get("/v1/exports/requests.csv", headers=city["staff"]["supervisor"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in answer.headers["content-disposition"]
    rows = _csv(answer.text)
    assert [int(r["id"]) for r in rows] == [noise, hidden, key_group]  # district 330203 only, in id order
    first = rows[0]
    assert first["description"] == "'=工地夜间施工噪音"  # a formula is defused
    assert first["category_name"] == "噪声扰民" and first["org_unit_code"] == "330203001001001"
    assert first["received_at"].endswith("+08:00")
    assert {r["citizen_name"] for r in rows} == {""} and {r["citizen_phone"] for r in rows} == {""}
    assert PHONE not in answer.text and "张三" not in answer.text
    filtered = await intake_client.get(
        "/v1/exports/requests.csv", params={"category": "land"}, headers=city["staff"]["supervisor"]
    )
    assert [int(r["id"]) for r in _csv(filtered.text)] == [key_group]


async def test_names_and_phones_are_for_dispatchers_only_and_the_export_is_audited(
    intake_client: Any, session: Any, city: dict[str, Any]
) -> None:
    refused = await intake_client.get(
        "/v1/exports/requests.csv", params={"pii": "true"}, headers=city["staff"]["supervisor"]
    )
    problem(refused, 403)
    problem(await intake_client.get("/v1/exports/requests.csv", headers=city["staff"]["handler"]), 403)
    answer = await intake_client.get(
        "/v1/exports/requests.csv", params={"pii": "true", "status": "received"}, headers=city["staff"]["dispatcher"]
    )
    rows = _csv(answer.text)
    assert {r["citizen_phone"] for r in rows if r["citizen_phone"]} == {PHONE}
    assert "张三" in {r["citizen_name"] for r in rows}
    entries = list(await session.scalars(select(AdminAuditEntry).order_by(AdminAuditEntry.id)))
    assert [e.action for e in entries] == ["requests.export_pii"]
    assert entries[0].after["format"] == "csv"
    assert entries[0].after["filters"] == {"status": "received"}
    assert entries[0].after["personal_data"] is True


async def test_a_geojson_export_is_a_feature_collection_of_points_in_wgs84(
    intake_client: Any, city: dict[str, Any]
) -> None:
    noise, hidden, *_ = city["ids"]
    answer = await intake_client.get("/v1/exports/requests.geojson", headers=city["staff"]["supervisor"])
    assert answer.headers["content-type"] == "application/geo+json"
    collection = json.loads(answer.text)
    assert collection["type"] == "FeatureCollection"
    features = {f["properties"]["id"]: f for f in collection["features"]}
    assert features[noise]["geometry"] == {"type": "Point", "coordinates": [121.50481, 29.80537]}
    assert features[hidden]["geometry"] is None
    assert features[noise]["properties"]["citizen_phone"] is None


async def test_open_data_has_no_person_no_free_text_and_only_coarse_places(
    intake_client: Any, city: dict[str, Any]
) -> None:
    answer = await intake_client.get("/v1/open-data/requests.csv", headers=city["staff"]["dispatcher"])
    rows = _csv(answer.text)
    # The anonymous request and the key-group one are left out, as on Open311.
    assert len(rows) == 2
    assert set(rows[0]) == set(exports.OPEN_DATA_COLUMNS)
    for leaked in ("工地", "幸福小区", "别的区", PHONE, "张三", "29.80537", "121.50481"):
        assert leaked not in answer.text
    noise = next(r for r in rows if r["grid_code"] == "330203001001001")
    assert (noise["cell_lat"], noise["cell_lon"]) == ("29.805", "121.505")
    assert noise["district_code"] == "330203" and noise["community_code"] == "330203001001"
    assert noise["received_date"].count("-") == 2 and "T" not in noise["received_date"]
    geo = json.loads(
        (await intake_client.get("/v1/open-data/requests.geojson", headers=city["staff"]["dispatcher"])).text
    )
    assert {tuple(f["geometry"]["coordinates"]) for f in geo["features"]} == {(121.505, 29.805), (121.545, 29.805)}
    assert all("id" not in f["properties"] for f in geo["features"])


async def _asgi_get(path: str, headers: dict[str, str]) -> list[MutableMapping[str, Any]]:
    """Every ASGI message the app sends for a GET (httpx's test transport joins the body; this does not)."""
    from intake_api.app import app

    sent: list[MutableMapping[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers | {"host": "intake.test"}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("intake.test", 80),
    }

    done = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays until the whole answer is in
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    return sent


async def test_exports_are_streamed_in_chunks_never_built_whole(
    session: Any, city: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(9):
        await make_request(session, unit=city["units"]["330203001001001"], description=f"第{n}件")
    await session.commit()
    monkeypatch.setattr(exports, "CHUNK", 4)
    for path in ("/v1/exports/requests.csv", "/v1/open-data/requests.geojson"):
        messages = await _asgi_get(path, city["staff"]["supervisor"])
        start = messages[0]
        assert start["type"] == "http.response.start" and start["status"] == 200
        assert b"content-length" not in dict(start["headers"])  # chunked transfer: no size up front
        bodies = [m for m in messages if m["type"] == "http.response.body"]
        # The header piece, then one piece per chunk of 4 requests: nothing waits for the whole file.
        assert len([b for b in bodies if b.get("more_body")]) >= 4, path
        text = b"".join(b["body"] for b in bodies).decode()
        if path.endswith(".csv"):
            assert len(_csv(text)) == 12  # the 3 of the fixture and these 9, in district 330203
        else:
            assert len(json.loads(text)["features"]) == 10  # the anonymous and key-group ones left out


async def test_unknown_units_and_bad_filters_are_problems_before_any_byte(
    intake_client: Any, city: dict[str, Any]
) -> None:
    headers = city["staff"]["supervisor"]
    problem(
        await intake_client.get("/v1/exports/requests.csv", params={"org_unit_code": "330205"}, headers=headers), 404
    )
    bad = await intake_client.get("/v1/open-data/requests.csv", params={"status": "nope"}, headers=headers)
    assert problem(bad, 422)["errors"][0]["loc"] == ["query", "status"]
    problem(await intake_client.get("/v1/exports/requests.geojson"), 401)

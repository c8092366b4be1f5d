"""Open311 GeoReport v2 at /open311/v2: catalog, submission through intake, the privacy-safe public view,
FixMyStreet's updates, the error array in JSON and XML; and the redaction rule, property-tested."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text, update

from services.lifecycle.events import append_event
from services.models import Category, Request
from services.open311.privacy import REDACTED, contains_sensitive, redact
from tests.factories import make_api_key, make_catalog, make_department, make_small_city, make_team, request_body
from tests.kit import count_rows

V2 = "/open311/v2"
XML_TYPE = "text/xml; charset=utf-8"
SHANGHAI = ZoneInfo("Asia/Shanghai")
POLLUTION = {
    "code": "env.pollution",
    "attributes": [
        {
            "code": "kinds",
            "datatype": "multivaluelist",
            "description": "污染类型",
            "required": True,
            "variable": True,
            "order": 1,
            "datatype_description": "可多选",
            "values": [
                {"key": "smoke", "name": "烟尘"},
                {"key": "odour", "name": "异味"},
                {"key": "dust", "name": "扬尘"},
            ],
        },
        {
            "code": "floors",
            "datatype": "number",
            "description": "楼层",
            "required": False,
            "variable": True,
            "order": 2,
            "datatype_description": None,
            "values": [],
        },
    ],
}


@pytest.fixture
async def city(session):
    units = await make_small_city(session)
    await make_catalog(session)
    session.add(
        Category(
            code=POLLUTION["code"],
            parent_code="env",
            name="大气污染",
            name_en="Air pollution",
            attributes=POLLUTION["attributes"],
        )
    )
    _, web_key = await make_api_key(session, channels=("hotline", "app", "web"))
    _, app_key = await make_api_key(session, channels=("app",))
    _, hotline_key = await make_api_key(session, channels=("hotline",))
    _, read_only_key = await make_api_key(session, rights=("requests:read",), channels=("web",))
    revoked, revoked_key = await make_api_key(session, channels=("web",))
    revoked.revoked_at = datetime.now(UTC)
    await session.commit()
    return {
        "units": units,
        "web": web_key,
        "app": app_key,
        "hotline": hotline_key,
        "read_only": read_only_key,
        "revoked": revoked_key,
    }


def form(key: str, **fields: Any) -> dict[str, Any]:
    """A FixMyStreet-like submission at the small city's first grid."""
    data: dict[str, Any] = {
        "api_key": key,
        "service_code": "env.noise",
        "lat": "29.805",
        "long": "121.505",
        "description": "工地夜间施工噪声扰民",
        "first_name": "三",
        "last_name": "张",
        "phone": "13800001234",
        "email": "zhang.san@example.org",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def xml_of(response) -> ET.Element:
    assert response.headers["content-type"] == XML_TYPE
    return ET.fromstring(response.content)


def error_descriptions(response) -> list[str]:
    body = response.json()
    assert isinstance(body, list) and body, body
    assert all(e["code"] == response.status_code for e in body), body
    return [e["description"] for e in body]


async def submit(client, key: str, fmt: str = "json", **fields: Any) -> str:
    r = await client.post(f"{V2}/requests.{fmt}", data=form(key, **fields))
    assert r.status_code == 200, r.text
    if fmt == "xml":
        return xml_of(r).findtext("request/service_request_id") or ""
    return str(r.json()[0]["service_request_id"])


# ---- discovery and catalog ---------------------------------------------------------------------


async def test_discovery_names_this_endpoint_in_json_and_xml(intake_client, city):
    r = await intake_client.get(f"{V2}/discovery.json")
    assert r.status_code == 200
    body = r.json()
    [endpoint] = body["endpoints"]
    assert endpoint["url"] == "http://intake.test/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    assert endpoint["type"] == "test"
    assert body["changeset"].endswith("+08:00")
    assert "api-keys" in body["key_service"]

    root = xml_of(await intake_client.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/url") == "http://intake.test/open311/v2"
    assert {f.text for f in root.findall("endpoints/endpoint/formats/format")} == {"application/json", "text/xml"}


async def test_services_list_active_categories_with_group_and_metadata(session, intake_client, city):
    await session.execute(update(Category).where(Category.code == "utilities").values(active=False))
    await session.commit()
    r = await intake_client.get(f"{V2}/services.json")
    assert r.status_code == 200
    services = {s["service_code"]: s for s in r.json()}
    # `unknown` is the hotline's "to classify", inactive categories are gone.
    assert list(services) == ["env", "env.noise", "env.pollution", "land", "land.acquisition"]
    noise = services["env.noise"]
    assert noise == {
        "service_code": "env.noise",
        "service_name": "噪声扰民",
        "description": "噪声扰民",
        "metadata": True,
        "type": "realtime",
        "keywords": "env.noise",
        "group": "生态环境",
    }
    assert services["env"]["metadata"] is False and services["env"]["group"] is None
    assert services["env.pollution"]["keywords"] == "Air pollution, env.pollution"

    root = xml_of(await intake_client.get(f"{V2}/services.xml"))
    assert root.tag == "services"
    by_code = {s.findtext("service_code"): s for s in root.findall("service")}
    assert list(by_code) == list(services)
    assert by_code["env.noise"].findtext("service_name") == "噪声扰民"
    assert by_code["env.noise"].findtext("group") == "生态环境"
    assert by_code["env.noise"].findtext("metadata") == "true"
    assert by_code["env"].findtext("metadata") == "false"
    assert by_code["env"].findtext("group") == ""


async def test_service_definition_lists_attributes_and_values_in_both_formats(intake_client, city):
    r = await intake_client.get(f"{V2}/services/env.pollution.json")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["service_code"] == "env.pollution"
    assert [a["code"] for a in body["attributes"]] == ["kinds", "floors"]
    kinds = body["attributes"][0]
    assert kinds == {
        "variable": True,
        "code": "kinds",
        "datatype": "multivaluelist",
        "required": True,
        "datatype_description": "可多选",
        "order": 1,
        "description": "污染类型",
        "values": [{"key": "smoke", "name": "烟尘"}, {"key": "odour", "name": "异味"}, {"key": "dust", "name": "扬尘"}],
    }

    root = xml_of(await intake_client.get(f"{V2}/services/env.noise.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "env.noise"
    [attribute] = root.findall("attributes/attribute")
    assert attribute.findtext("code") == "noise_source"
    assert attribute.findtext("datatype") == "singlevaluelist"
    assert attribute.findtext("required") == "false"
    assert [(v.findtext("key"), v.findtext("name")) for v in attribute.findall("values/value")] == [
        ("construction", "建筑施工"),
        ("shop", "商铺"),
    ]


@pytest.mark.parametrize("code", ["env", "no.such", "unknown", "BAD CODE"])
async def test_service_definition_is_404_for_unknown_or_attributeless_services(intake_client, city, code):
    r = await intake_client.get(f"{V2}/services/{code}.json")
    assert r.status_code == 404
    assert error_descriptions(r)
    root = xml_of(await intake_client.get(f"{V2}/services/{code}.xml"))
    assert root.tag == "errors"
    assert root.findtext("error/code") == "404"


# ---- submission --------------------------------------------------------------------------------


async def test_post_creates_the_same_request_as_v1_with_its_attribute(session, intake_client, city):
    r = await intake_client.post(
        f"{V2}/requests.json", data=form(city["web"], **{"attribute[noise_source]": "construction", "account_id": "u7"})
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    [created] = r.json()
    request_id = created["service_request_id"]
    assert isinstance(request_id, str) and request_id.isdigit()
    assert created["account_id"] == "u7"
    notice = re.fullmatch(r"受理编号 (\d{15})", created["service_notice"])
    assert notice is not None

    v1 = await intake_client.get(f"/v1/requests/{request_id}", headers={"X-API-Key": city["web"]})
    assert v1.status_code == 200, v1.text
    native = v1.json()
    assert native["id"] == int(request_id)
    assert native["tracking_no"] == notice.group(1) != request_id
    assert native["channel"] == "web"
    assert native["category"] == "env.noise"
    assert native["attributes"] == {"noise_source": "construction"}
    assert native["description"] == "工地夜间施工噪声扰民"
    assert (native["location"]["lat"], native["location"]["lon"]) == (29.805, 121.505)
    assert native["citizen"] == {"name": "张*", "phone": "138****1234", "anonymous": False, "masked": True}


async def test_the_email_is_never_stored(session, intake_client, city):
    await submit(intake_client, city["web"], email="secret.person@example.org")
    for table in ("requests", "request_events", "outbox", "idempotency_keys"):
        hits = await session.scalar(
            text(f"SELECT count(*) FROM {table} t WHERE row_to_json(t)::text ILIKE '%secret.person%'")
        )
        assert hits == 0, table


async def test_post_takes_multi_value_and_number_attributes_and_answers_xml(session, intake_client, city):
    r = await intake_client.post(
        f"{V2}/requests.xml",
        data=form(
            city["web"],
            service_code="env.pollution",
            **{"attribute[kinds][]": ["smoke", "odour"], "attribute[floors]": "3", "attribute[title]": "extra"},
        ),
    )
    assert r.status_code == 200, r.text
    root = xml_of(r)
    assert root.tag == "service_requests"
    request_id = root.findtext("request/service_request_id")
    assert request_id and request_id.isdigit()
    assert (root.findtext("request/service_notice") or "").startswith("受理编号 ")
    assert root.find("request/account_id") is not None
    stored = await session.get(Request, int(request_id))
    # Attributes the service does not define (FixMyStreet sends some) are left out.
    assert stored.attributes == {"kinds": ["smoke", "odour"], "floors": 3.0}


async def test_post_channel_is_app_when_the_key_allows_only_app(session, intake_client, city):
    request_id = await submit(intake_client, city["app"])
    stored = await session.get(Request, int(request_id))
    assert stored.channel == "app"
    assert stored.created_by.startswith("key:")


async def test_post_locates_by_address_id_or_address_string_alone(session, intake_client, city):
    by_unit = await submit(intake_client, city["web"], lat=None, long=None, address_id="330203001001")
    by_text = await submit(intake_client, city["web"], lat=None, long=None, address_string="南门街道解放南路88号")
    assert (await session.get(Request, int(by_unit))).org_unit_id == city["units"]["330203001001"].id
    assert (await session.get(Request, int(by_text))).address == "南门街道解放南路88号"


async def test_post_without_description_uses_the_service_name(session, intake_client, city):
    request_id = await submit(intake_client, city["web"], description=None)
    assert (await session.get(Request, int(request_id))).description == "噪声扰民"


@pytest.mark.parametrize(
    ("key", "why"),
    [(None, "required"), ("mq_000000000000_not-a-key", "Invalid"), ("revoked", "revoked"), ("read_only", "may not")],
)
async def test_post_without_a_good_key_is_a_403_array(session, intake_client, city, key, why):
    api_key = city.get(key, key)
    r = await intake_client.post(f"{V2}/requests.json", data=form(api_key) if api_key else form("x", api_key=None))
    assert r.status_code == 403
    [description] = error_descriptions(r)
    assert why in description
    assert "www-authenticate" not in r.headers
    assert await count_rows(session, Request) == 0


async def test_post_with_a_hotline_only_key_is_a_403_in_xml(session, intake_client, city):
    r = await intake_client.post(f"{V2}/requests.xml", data=form(city["hotline"]))
    assert r.status_code == 403
    root = xml_of(r)
    assert root.tag == "errors"
    assert root.findtext("error/code") == "403"
    assert "web or app" in (root.findtext("error/description") or "")
    assert await count_rows(session, Request) == 0


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"service_code": None}, "service_code: required"),
        ({"service_code": "no.such"}, "service_code: unknown service"),
        ({"service_code": "unknown"}, "service_code: unknown service"),
        ({"lat": None, "long": None}, "lat/long: required"),
        ({"long": None}, "lat/long: send both"),
        ({"lat": "abc"}, "lat: must be a number"),
        ({"lat": "95"}, "lat: must be a number between -90 and 90"),
        ({"long": "nan"}, "long: must be a number"),
        ({"lat": "39.9", "long": "116.4"}, "lat/long: outside the city"),
        ({"lat": None, "long": None, "address_id": "999999"}, "address_id: unknown community or grid"),
        ({"attribute[noise_source]": "fireworks"}, "attribute[noise_source]: must be one of"),
        ({"description": "x" * 4001}, "description:"),
        ({"media_url": "ftp://example.org/a.jpg"}, "media_url:"),
        ({"first_name": "三\x00"}, "first_name: control characters"),
    ],
)
async def test_post_bad_input_is_a_400_array_naming_the_parameter(session, intake_client, city, fields, named):
    r = await intake_client.post(f"{V2}/requests.json", data=form(city["web"], **fields))
    assert r.status_code == 400, r.text
    descriptions = error_descriptions(r)
    assert any(d.startswith(named) for d in descriptions), descriptions
    assert await count_rows(session, Request) == 0


async def test_post_keeps_the_request_but_not_an_unusable_phone(session, intake_client, city):
    r = await intake_client.post(f"{V2}/requests.json", data=form(city["web"], phone="12345"))
    assert r.status_code == 200, r.text
    [created] = r.json()
    assert created["service_notice"].endswith("；电话号码无法识别，未记录")
    stored = await session.get(Request, int(created["service_request_id"]))
    assert stored.citizen_phone_enc is None and stored.citizen_name_enc is not None


async def test_post_missing_required_attribute_is_400(session, intake_client, city):
    r = await intake_client.post(f"{V2}/requests.json", data=form(city["web"], service_code="env.pollution"))
    assert r.status_code == 400
    assert error_descriptions(r) == ["attribute[kinds]: required"]


async def test_post_rejects_a_form_that_is_not_utf8(session, intake_client, city):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    body = f"api_key={city['web']}&service_code=env.noise&lat=29.805&long=121.505&description=".encode()
    for bad in (body + b"%FF%FE", body + b"\xff\xfe"):
        r = await intake_client.post(f"{V2}/requests.json", content=bad, headers=headers)
        assert r.status_code == 400, r.text
        assert "UTF-8" in error_descriptions(r)[0]
    r = await intake_client.post(f"{V2}/requests.json", json=form(city["web"]))
    assert r.status_code == 400
    assert await count_rows(session, Request) == 0


async def test_post_accepts_multipart_form_data(session, intake_client, city):
    r = await intake_client.post(f"{V2}/requests.json", data=form(city["web"]), files={"unused": (None, "")})
    assert r.status_code == 200, r.text
    assert await count_rows(session, Request) == 1


async def test_jurisdiction_id_is_accepted_for_the_city_and_404_otherwise(session, intake_client, city):
    await submit(intake_client, city["web"], jurisdiction_id="3302")
    r = await intake_client.post(f"{V2}/requests.json", data=form(city["web"], jurisdiction_id="ningbo.example"))
    assert r.status_code == 404
    assert await count_rows(session, Request) == 1
    assert (await intake_client.get(f"{V2}/services.json", params={"jurisdiction_id": "3302"})).status_code == 200
    r = await intake_client.get(f"{V2}/requests.xml", params={"jurisdiction_id": "3301"})
    assert r.status_code == 404
    assert xml_of(r).findtext("error/code") == "404"


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["services.csv", "requests.html", "requests/1.yaml", "discovery.JSON"])
async def test_an_unknown_format_suffix_is_404(intake_client, city, path):
    r = await intake_client.get(f"{V2}/{path}")
    assert r.status_code == 404
    assert error_descriptions(r) == ["Unknown format: use .json or .xml"]


async def test_validation_errors_are_400_arrays_not_422_in_both_formats(intake_client, city):
    r = await intake_client.get(f"{V2}/services.json", params={"jurisdiction_id": "x" * 101})
    assert r.status_code == 400
    assert error_descriptions(r)[0].startswith("jurisdiction_id:")
    r = await intake_client.get(f"{V2}/requests.xml", params={"start_date": "yesterday"})
    assert r.status_code == 400
    root = xml_of(r)
    assert root.tag == "errors"
    [error] = root.findall("error")
    assert error.findtext("code") == "400"
    assert (error.findtext("description") or "").startswith("start_date: not an ISO 8601")


async def test_error_xml_escapes_what_the_caller_sent(intake_client, city):
    r = await intake_client.post(f"{V2}/requests.xml", data=form(city["web"], service_code="a<b>&c"))
    assert r.status_code == 400
    root = xml_of(r)
    assert "'a<b>&c'" in (root.findtext("error/description") or "")


# ---- the public view ---------------------------------------------------------------------------


async def make_public_requests(client, city) -> dict[str, str]:
    """Four visible requests at distinct places (so none is a duplicate of another)."""
    key = city["web"]
    return {
        "noise": await submit(client, key, lat="29.801", phone=None),
        "noise2": await submit(client, key, lat="29.809", description="商铺音响太吵", phone=None),
        "water": await submit(
            client, key, service_code="utilities", long="121.525", description="停水两天了", phone=None
        ),
        "smoke": await submit(
            client,
            key,
            service_code="env.pollution",
            long="121.545",
            description="烧烤油烟",
            phone=None,
            **{"attribute[kinds]": "smoke"},
        ),
    }


async def listed(client, **params: Any) -> list[str]:
    r = await client.get(f"{V2}/requests.json", params=params)
    assert r.status_code == 200, r.text
    return [item["service_request_id"] for item in r.json()]


async def test_get_requests_lists_public_requests_newest_first(intake_client, city):
    ids = await make_public_requests(intake_client, city)
    assert await listed(intake_client) == [ids["smoke"], ids["water"], ids["noise2"], ids["noise"]]
    root = xml_of(await intake_client.get(f"{V2}/requests.xml"))
    assert root.tag == "service_requests"
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [
        ids["smoke"],
        ids["water"],
        ids["noise2"],
        ids["noise"],
    ]
    first = root.find("request")
    assert first is not None
    assert first.findtext("status") == "open"
    assert first.findtext("service_code") == "env.pollution"
    assert first.findtext("service_name") == "大气污染"
    assert first.findtext("description") == "烧烤油烟"
    assert float(first.findtext("long") or 0) == 121.545


async def test_get_requests_filters_by_ids_codes_and_status(session, intake_client, city):
    ids = await make_public_requests(intake_client, city)
    await session.execute(
        update(Request).where(Request.id.in_([int(ids["noise"]), int(ids["water"])])).values(status="closed")
    )
    await session.execute(update(Request).where(Request.id == int(ids["noise2"])).values(status="resolved"))
    await session.commit()
    assert await listed(intake_client, service_request_id=f"{ids['noise']}, {ids['smoke']},999999") == [
        ids["smoke"],
        ids["noise"],
    ]
    assert await listed(intake_client, service_code="env.noise,utilities,NOT A CODE") == [
        ids["water"],
        ids["noise2"],
        ids["noise"],
    ]
    assert await listed(intake_client, service_code="NOT A CODE") == []
    assert await listed(intake_client, status="closed") == [ids["water"], ids["noise2"], ids["noise"]]
    assert await listed(intake_client, status="open") == [ids["smoke"]]
    assert len(await listed(intake_client, status="open,closed")) == 4
    # service_request_id overrides every other filter.
    assert await listed(intake_client, service_request_id=ids["smoke"], status="closed") == [ids["smoke"]]
    r = await intake_client.get(f"{V2}/requests.json", params={"status": "pending"})
    assert r.status_code == 400
    assert error_descriptions(r) == ["status: must be open or closed"]
    # What cannot be an id is ignored like an unknown id (see the test below), not a 400.
    assert await listed(intake_client, service_request_id=f"{ids['noise']},abc") == [ids["noise"]]


async def test_get_requests_filters_by_date_range_of_at_most_90_days(session, intake_client, city):
    ids = await make_public_requests(intake_client, city)
    now = datetime.now(UTC)
    await session.execute(
        update(Request).where(Request.id == int(ids["noise"])).values(received_at=now - timedelta(days=30))
    )
    await session.execute(
        update(Request).where(Request.id == int(ids["water"])).values(received_at=now - timedelta(days=120))
    )
    await session.commit()
    # By default: the last 90 days.
    assert set(await listed(intake_client)) == {ids["noise"], ids["noise2"], ids["smoke"]}
    window = {
        "start_date": (now - timedelta(days=40)).astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "end_date": (now - timedelta(days=20)).isoformat(),
    }
    assert await listed(intake_client, **window) == [ids["noise"]]
    assert await listed(intake_client, start_date=(now - timedelta(days=130)).isoformat()) == [ids["water"]]
    assert ids["water"] in await listed(intake_client, end_date=(now - timedelta(days=100)).isoformat())
    # Offsets are honoured: +08:00 local time and UTC name the same instant.
    local = (now - timedelta(days=31)).astimezone(SHANGHAI)
    assert ids["noise"] in await listed(intake_client, start_date=local.isoformat(), end_date=now.isoformat())

    too_long = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"}
    r = await intake_client.get(f"{V2}/requests.json", params=too_long)
    assert r.status_code == 400
    assert "90 days" in error_descriptions(r)[0]
    backwards = {"start_date": "2026-06-01T00:00:00+08:00", "end_date": "2026-01-01T00:00:00+08:00"}
    assert (await intake_client.get(f"{V2}/requests.json", params=backwards)).status_code == 400
    for bad in ("2026-13-01", "0001-01-01", "today", "2026-11-26T25:00:00+08:00"):
        r = await intake_client.get(f"{V2}/requests.json", params={"start_date": bad})
        assert r.status_code == 400, bad
        assert error_descriptions(r)[0].startswith("start_date:")


async def test_anonymous_and_key_group_requests_are_not_public(session, intake_client, city):
    visible = await submit(intake_client, city["web"], phone=None)
    key_group = await submit(intake_client, city["web"], service_code="land.acquisition", long="121.545")
    anonymous = await intake_client.post(
        "/v1/requests",
        json=request_body(
            category="utilities",
            location={"lat": 29.805, "lon": 121.525},
            citizen={"name": "李四", "phone": "13900001111", "anonymous": True},
        ),
        headers={"X-API-Key": city["web"]},
    )
    assert anonymous.status_code == 201, anonymous.text
    hidden = [key_group, str(anonymous.json()["id"])]
    assert await listed(intake_client) == [visible]
    assert await listed(intake_client, service_request_id=",".join([visible, *hidden])) == [visible]
    for request_id in hidden:
        for path in (f"requests/{request_id}", f"tokens/{request_id}"):
            r = await intake_client.get(f"{V2}/{path}.json")
            assert r.status_code == 404, path
    assert (await intake_client.get(f"{V2}/requests/{visible}.json")).status_code == 200


async def test_public_view_shows_no_names_phones_or_emails_and_redacts_numbers(session, intake_client, city):
    request_id = await submit(
        intake_client,
        city["web"],
        description="楼下噪音，我的电话 138 0013 8000，座机(0574)8765-4321，身份证33020319900101123X，邮箱 a.b@qq.com",
        address_string="海曙区 联系人 +86 139-0013-9000",
    )
    for fmt in ("json", "xml"):
        r = await intake_client.get(f"{V2}/requests/{request_id}.{fmt}")
        assert r.status_code == 200
        raw = r.content.decode()
        secrets = ["张", "13800001234", "zhang.san", "example.org", "138 0013 8000", "8765-4321", "123X", "qq.com"]
        for secret in [*secrets, "139-0013-9000", "800138000", "87654321"]:
            assert secret not in raw, (fmt, secret)
    [item] = (await intake_client.get(f"{V2}/requests/{request_id}.json")).json()
    assert item["description"] == (f"楼下噪音，我的电话 {REDACTED}，座机{REDACTED}，身份证{REDACTED}，邮箱 {REDACTED}")
    assert item["address"] == f"海曙区 联系人 {REDACTED}"
    assert set(item) == {
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
    }


async def test_closed_request_shows_outcome_notes_agency_and_deadline(session, intake_client, city):
    closed_id = await submit(intake_client, city["web"], media_url="https://example.org/p/1.jpg", phone=None)
    team_id = await submit(intake_client, city["web"], service_code="utilities", long="121.525", phone=None)
    department = await make_department(session, "CG", city["units"]["3302"], name="海曙区综合行政执法局")
    team = await make_team(session, city["units"]["330203001001001"], name="南门第一网格服务团队")
    await session.execute(
        update(Request)
        .where(Request.id == int(closed_id))
        .values(
            status="closed",
            outcome="resolved",
            public_reply="已协调停工，电话13900139000",
            lead_department_id=department.id,
        )
    )
    await session.execute(update(Request).where(Request.id == int(team_id)).values(lead_team_id=team.id))
    await append_event(session, int(team_id), "note", "staff:1", note="已派网格员到场", public=True)
    await append_event(session, int(team_id), "note", "staff:1", note="内部：住户难沟通", public=False)
    await session.commit()
    stored = await session.get(Request, int(closed_id))

    [closed] = (await intake_client.get(f"{V2}/requests/{closed_id}.json")).json()
    assert closed["status"] == "closed"
    assert closed["status_notes"] == f"已解决：已协调停工，电话{REDACTED}"
    assert closed["agency_responsible"] == "海曙区综合行政执法局"
    assert closed["media_url"] == "https://example.org/p/1.jpg"
    assert closed["address_id"] is None
    assert closed["service_notice"] is None
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert closed[name].endswith("+08:00"), closed[name]
    assert datetime.fromisoformat(closed["expected_datetime"]) == stored.resolve_by
    assert datetime.fromisoformat(closed["requested_datetime"]) == stored.received_at

    root = xml_of(await intake_client.get(f"{V2}/requests/{team_id}.xml"))
    assert root.findtext("request/status") == "open"
    assert root.findtext("request/agency_responsible") == "南门第一网格服务团队"
    assert root.findtext("request/status_notes") == "已派网格员到场"
    assert root.findtext("request/zipcode") == ""


@pytest.mark.parametrize("request_id", ["999999", "abc", "1.5", "99999999999999999999999"])
async def test_request_by_id_is_404_when_unknown(intake_client, city, request_id):
    r = await intake_client.get(f"{V2}/requests/{request_id}.json")
    assert r.status_code == 404
    assert error_descriptions(r)
    assert xml_of(await intake_client.get(f"{V2}/requests/{request_id}.xml")).findtext("error/code") == "404"


async def test_a_token_is_the_service_request_id(intake_client, city):
    request_id = await submit(intake_client, city["web"])
    r = await intake_client.get(f"{V2}/tokens/{request_id}.json")
    assert r.status_code == 200
    assert r.json() == [{"service_request_id": request_id, "token": request_id}]
    root = xml_of(await intake_client.get(f"{V2}/tokens/{request_id}.xml"))
    assert root.findtext("request/service_request_id") == request_id
    assert root.findtext("request/token") == request_id
    assert (await intake_client.get(f"{V2}/tokens/424242.json")).status_code == 404


# ---- FixMyStreet's servicerequestupdates ---------------------------------------------------------


async def test_service_request_updates_list_public_status_changes(session, intake_client, city):
    request_id = int(await submit(intake_client, city["web"], phone=None))
    hidden_id = int(await submit(intake_client, city["web"], service_code="land.acquisition", long="121.545"))
    events = [
        await append_event(session, request_id, "accepted", "staff:1", from_status="assigned", to_status="accepted"),
        await append_event(session, request_id, "note", "staff:1", note="不是状态变化", public=True),
        await append_event(
            session,
            request_id,
            "resolved",
            "staff:1",
            from_status="accepted",
            to_status="resolved",
            note="已处理，回电 13900139000",
            public=True,
        ),
        await append_event(
            session, request_id, "closed", "staff:1", from_status="resolved", to_status="closed", note="内部备注"
        ),
    ]
    await append_event(session, hidden_id, "closed", "staff:1", from_status="resolved", to_status="closed")
    await session.commit()

    r = await intake_client.get(f"{V2}/servicerequestupdates.json")
    assert r.status_code == 200, r.text
    assert r.json() == [
        {
            "update_id": str(events[0].id),
            "service_request_id": str(request_id),
            "status": "open",
            "updated_datetime": events[0].occurred_at.astimezone(SHANGHAI).isoformat(),
            "description": "",
            "media_url": None,
        },
        {
            "update_id": str(events[2].id),
            "service_request_id": str(request_id),
            "status": "closed",
            "updated_datetime": events[2].occurred_at.astimezone(SHANGHAI).isoformat(),
            "description": f"已处理，回电 {REDACTED}",
            "media_url": None,
        },
        {
            "update_id": str(events[3].id),
            "service_request_id": str(request_id),
            "status": "closed",
            "updated_datetime": events[3].occurred_at.astimezone(SHANGHAI).isoformat(),
            "description": "",
            "media_url": None,
        },
    ]
    root = xml_of(await intake_client.get(f"{V2}/servicerequestupdates.xml"))
    assert root.tag == "service_requests_updates"
    assert [u.findtext("status") for u in root.findall("request_update")] == ["open", "closed", "closed"]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await intake_client.get(f"{V2}/servicerequestupdates.json", params={"start_date": later})).json() == []
    r = await intake_client.get(f"{V2}/servicerequestupdates.json", params={"end_date": "soon"})
    assert r.status_code == 400


# ---- redaction, property-tested ----------------------------------------------------------------

# Independent checks (plain forms only) that the redacted text must never match.
PLAIN = [
    re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])"),
    re.compile(r"(?<![0-9])0[1-9][0-9]{1,2}-?[1-9][0-9]{6,7}(?![0-9])"),
    re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])"),
]
FULL_WIDTH = str.maketrans({chr(0xFF10 + d): str(d) for d in range(10)})
NO_DIGITS = st.text(st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="@+(（＋"), max_size=30)
MOBILES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
LANDLINES = st.tuples(st.sampled_from(["010", "021", "0574", "0571"]), st.from_regex(r"[2-8][0-9]{7}", fullmatch=True))
ID_CARDS = st.from_regex(r"[1-9][0-9]{16}[0-9X]", fullmatch=True)


def digits(text_: str) -> str:
    return "".join(c for c in text_.translate(FULL_WIDTH) if c.isascii() and c.isdigit())


@st.composite
def written_numbers(draw) -> tuple[str, str]:
    """(as written, the number): mobiles, landlines and ID cards in the forms people type them."""
    kind = draw(st.sampled_from(["mobile", "landline", "id"]))
    if kind == "mobile":
        number = draw(MOBILES)
        forms = [number, f"{number[:3]} {number[3:7]} {number[7:]}", f"{number[:3]}-{number[3:7]}-{number[7:]}"]
        forms += [
            f"+86 {number}",
            f"+86-{number[:3]}-{number[3:7]}-{number[7:]}",
            number.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        ]
    elif kind == "landline":
        area, local = draw(LANDLINES)
        number = area + local
        forms = [
            number,
            f"{area}-{local}",
            f"({area}){local}",
            f"（{area}）{local[:4]} {local[4:]}",
            f"+86 {area[1:]} {local}",
        ]
    else:
        number = draw(ID_CARDS)
        forms = [number, number.lower(), f"{number[:6]} {number[6:14]} {number[14:]}"]
    return draw(st.sampled_from(forms)), number


# Text dense with digits: loose characters, digit runs and numbers as people write them, side by side.
NUMBERISH = st.lists(
    st.one_of(
        st.text(st.sampled_from("0123456789１３８ -+()（）Xx@.a号电话"), max_size=8),
        st.from_regex(r"[0-9]{1,20}", fullmatch=True),
        written_numbers().map(lambda written: written[0]),
    ),
    max_size=8,
).map("".join)


@given(NUMBERISH)
def test_redacted_text_never_contains_a_phone_or_id_number(value):
    redacted = redact(value)
    assert not contains_sensitive(redacted)
    shadow = redacted.translate(FULL_WIDTH)
    assert not any(p.search(shadow) for p in PLAIN), redacted
    assert redact(redacted) == redacted


@given(NUMBERISH)
def test_text_without_such_numbers_is_unchanged(value):
    if not contains_sensitive(value):
        assert redact(value) == value


@given(NO_DIGITS)
def test_text_without_digits_or_at_signs_is_unchanged(value):
    assert redact(value) == value


@given(st.lists(st.tuples(NO_DIGITS.filter(bool), st.from_regex(r"[0-9]{1,6}", fullmatch=True)), max_size=6))
def test_short_numbers_between_words_are_kept(parts):
    value = "".join(f"{word}号{number}" for word, number in parts)
    assert redact(value) == value


@given(NO_DIGITS, written_numbers(), NO_DIGITS)
def test_a_number_typed_into_text_is_removed_and_the_rest_kept(before, written, after):
    typed, _ = written
    redacted = redact(before + typed + after)
    assert digits(redacted) == ""
    assert redacted.startswith(before) and redacted.endswith(after)
    assert REDACTED in redacted


# ---- service_request_id lists with ids that cannot exist ------------------------------------------


async def test_service_request_id_list_ignores_ids_that_cannot_exist(intake_client, city):
    ids = await make_public_requests(intake_client, city)
    noise, smoke = ids["noise"], ids["smoke"]
    huge = "99999999999999999999999"
    # Only the requests that exist, newest first; the rest of the list is ignored, in JSON and XML.
    for value, expected in (
        (f"{noise},abc", [noise]),
        (f"abc,{noise}", [noise]),
        (f"{noise},,{smoke}", [smoke, noise]),
        (f" {noise} , {smoke} ,", [smoke, noise]),
        (f"{noise},{huge},{smoke}", [smoke, noise]),
        (f"{noise},-1,0,1.5,+{smoke},{smoke}x,９,{2**63}", [noise]),
        (f"{noise},{noise},{2**63 - 1}", [noise]),
        (f"0{noise}", [noise]),
    ):
        assert await listed(intake_client, service_request_id=value) == expected, value
    root = xml_of(await intake_client.get(f"{V2}/requests.xml", params={"service_request_id": f"{smoke},abc"}))
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [smoke]
    # Nothing valid left: an empty list (200), not every request and not a 400.
    for value in ("abc", huge, "abc,,def", "0", "-5", str(2**63), "<script>", "1e3"):
        assert await listed(intake_client, service_request_id=value) == [], value
        r = await intake_client.get(f"{V2}/requests.xml", params={"service_request_id": value})
        assert r.status_code == 200, value
        root = xml_of(r)
        assert root.tag == "service_requests" and root.findall("request") == [], value
    # service_request_id still overrides the other filters, even when nothing valid is left.
    assert await listed(intake_client, service_request_id="abc", status="open") == []
    # A blank value lists nothing, so it filters nothing.
    assert len(await listed(intake_client, service_request_id="")) == 4
    assert len(await listed(intake_client, service_request_id=" , ")) == 4


async def test_service_request_id_list_keeps_its_size_limit(intake_client, city):
    ids = await make_public_requests(intake_client, city)
    ok = ",".join(str(n) for n in range(1, 1001))
    assert set(await listed(intake_client, service_request_id=ok)) == set(ids.values())
    r = await intake_client.get(f"{V2}/requests.json", params={"service_request_id": ok + ",abc"})
    assert r.status_code == 400
    assert error_descriptions(r) == ["service_request_id: at most 1000 ids"]
    r = await intake_client.get(f"{V2}/requests.xml", params={"service_request_id": ok + ",abc"})
    assert r.status_code == 400 and xml_of(r).tag == "errors"

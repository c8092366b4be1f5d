"""What both apps share: problem+json, request ids, health, readiness and metrics."""

from tests.factories import make_city_admin


async def test_health_readiness_and_metrics(intake_client, scoring_client):
    for client in (intake_client, scoring_client):
        await _check_health(client)


async def _check_health(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["checks"]) == ("ready", {"database": "ok", "redis": "ok"})
    assert all(isinstance(w, str) for w in body.get("warnings", []))
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert "minqing_http_requests_total" in r.text


async def test_request_id_is_echoed_or_made(intake_client):
    r = await intake_client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await intake_client.get("/healthz")
    assert len(r.headers["x-request-id"]) == 32


async def test_unknown_route_is_problem_json(intake_client):
    r = await intake_client.get("/v1/nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404


async def test_validation_error_lists_each_field(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post("/v1/admin/org-units", json={"code": "bad code!", "level": "planet"}, headers=auth)
    assert r.status_code == 422
    body = r.json()
    assert body["title"] == "Invalid input"
    assert {e["field"] for e in body["errors"]} == {"code", "name", "level"}


async def test_invalid_json_and_invalid_utf8_are_422_not_500(session, intake_client):
    _, auth = await make_city_admin(session)
    headers = {**auth, "Content-Type": "application/json"}
    for body in (b"{not json", b'{"code": "\xff\xfe", "name": "x", "level": "city"}'):
        r = await intake_client.post("/v1/admin/org-units", content=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"


async def test_openapi_documents_every_route_with_problem_answers(intake_client, scoring_client):
    spec = (await intake_client.get("/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            if path.startswith("/v1/admin"):
                assert "403" in operation["responses"], f"{method} {path} documents no 403"
    assert (await scoring_client.get("/openapi.json")).status_code == 200

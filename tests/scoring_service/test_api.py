"""The scoring API: schemes, runs, scores with their breakdown, CSV, rankings, scope, disclosure, errors.

Data: the small fixture of tests/services/scoring/test_small_city.py (its docstring lists the requests).
"""

import csv
import io

from tests.factories import bearer, make_leader_link, make_staff
from tests.kit import PROBLEM
from tests.services.scoring.helpers import AS_OF, OCT, PERIOD, A, B, C, small_fixture_with_people


async def setup(session):
    return await small_fixture_with_people(session, "admin", "supervisor", "district", "auditor")


async def start_run(client, who, **body):
    answer = await client.post(
        "/v1/scores/runs", json={"period": PERIOD, "as_of": AS_OF.isoformat(), **body}, headers=bearer(who)
    )
    assert answer.status_code in (201, 202), answer.text
    return answer


async def test_schemes_are_versioned_and_admin_only(session, scoring_client):
    _, people, _ = await setup(session)
    admin = bearer(people["admin"])
    listed = await scoring_client.get("/v1/admin/scoring-schemes", headers=admin)
    assert listed.status_code == 200
    [first] = listed.json()["items"]
    assert first["version"] == 1 and first["current"] is True
    assert first["document"]["three_rate_weights"] == {"response": 0.2, "resolution": 0.4, "satisfaction": 0.4}
    created = await scoring_client.post(
        "/v1/admin/scoring-schemes",
        json={
            "name": "满意率优先",
            "document": {"three_rate_weights": {"response": 0.2, "resolution": 0.3, "satisfaction": 0.5}},
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/admin/scoring-schemes/2"
    assert created.json()["version"] == 2
    # Omitted parts were spelled out with the defaults.
    assert created.json()["document"]["satisfaction_points"]["basically_satisfied"] == 0.8
    assert (await scoring_client.get("/v1/admin/scoring-schemes/1", headers=admin)).json()["current"] is False
    assert (await scoring_client.get("/v1/admin/scoring-schemes/9", headers=admin)).status_code == 404
    refused = await scoring_client.get("/v1/admin/scoring-schemes", headers=bearer(people["supervisor"]))
    assert refused.status_code == 403
    assert (await scoring_client.get("/v1/admin/scoring-schemes")).status_code == 401


async def test_a_scheme_whose_weights_do_not_add_up_is_refused_naming_the_field(session, scoring_client):
    _, people, _ = await setup(session)
    answer = await scoring_client.post(
        "/v1/admin/scoring-schemes",
        json={
            "name": "bad",
            "document": {"three_rate_weights": {"response": 0.5, "resolution": 0.4, "satisfaction": 0.4}},
        },
        headers=bearer(people["admin"]),
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    assert any("three_rate_weights" in error["field"] for error in answer.json()["errors"])
    unknown = await scoring_client.post(
        "/v1/admin/scoring-schemes",
        json={"name": "typo", "document": {"three_rate_weight": {}}},
        headers=bearer(people["admin"]),
    )
    assert unknown.status_code == 422


async def test_a_small_run_is_computed_at_once_and_read_back(session, scoring_client):
    _, people, _ = await setup(session)
    started = await start_run(scoring_client, people["supervisor"])
    assert started.status_code == 201
    run = started.json()
    assert (run["status"], run["mode"], run["progress"], run["cohort_size"]) == ("done", "inline", 1.0, 9)
    assert started.headers["location"] == f"/v1/scores/runs/{run['id']}"
    read = await scoring_client.get(f"/v1/scores/runs/{run['id']}", headers=bearer(people["auditor"]))
    assert read.json()["status"] == "done" and read.json()["scheme_version"] == 1

    units = await scoring_client.get(
        "/v1/scores/units", params={"period": PERIOD, "level": "grid"}, headers=bearer(people["supervisor"])
    )
    assert units.status_code == 200
    by_code = {item["code"]: item for item in units.json()["items"]}
    assert set(by_code) == {A, B, C}
    grid_a = by_code[A]
    assert grid_a["run_id"] == run["id"] and grid_a["scheme_version"] == 1
    assert grid_a["as_of"] == "2026-11-20T08:00:00+08:00"
    assert grid_a["rates"]["response_rate"]["value"] == 0.5
    assert grid_a["three_rate_score"]["weights"] == {"response": 0.2, "resolution": 0.4, "satisfaction": 0.4}

    detail = await scoring_client.get(
        f"/v1/scores/units/{A}", params={"period": PERIOD}, headers=bearer(people["supervisor"])
    )
    assert detail.status_code == 200, detail.text
    breakdown = detail.json()["breakdown"]
    assert breakdown["sources"][0]["kind"] == "grid_team"
    assert breakdown["priors"]["response_rate"]["method"] == "fallback"
    assert breakdown["case_mix"]["categories"][0]["category"] == "env.noise"
    assert breakdown["case_mix"]["categories"][0]["baseline"]["response_rate"] == 5 / 8
    assert breakdown["scheme"]["satisfaction_points"]["satisfied"] == 1.0
    assert "three_rate_score" in breakdown["formulas"]

    department = await scoring_client.get(
        "/v1/scores/departments/HB", params={"period": PERIOD}, headers=bearer(people["supervisor"])
    )
    assert department.json()["counts"]["evaluated"] == 1

    verified = await scoring_client.post(f"/v1/scores/runs/{run['id']}/verify", headers=bearer(people["auditor"]))
    assert verified.status_code == 200
    assert verified.json()["matches"] is True and verified.json()["differences"] == []


async def test_csv_export_lists_every_unit_in_scope(session, scoring_client):
    _, people, _ = await setup(session)
    await start_run(scoring_client, people["supervisor"])
    answer = await scoring_client.get(
        "/v1/scores/units.csv", params={"period": PERIOD}, headers=bearer(people["district"])
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    # District 330205's subtree: the district, its street, community and grid C.
    assert sorted(row["code"] for row in rows) == ["330205", "330205001", "330205001001", C]
    assert {row["return_rate"] for row in rows} == {"1.0"}
    # Times in one form everywhere: ISO 8601 with the city's offset, as in the JSON answers.
    run_as_of = (
        await scoring_client.get("/v1/scores/units", params={"period": PERIOD}, headers=bearer(people["district"]))
    ).json()["items"][0]["as_of"]
    assert {row["as_of"] for row in rows} == {run_as_of} and run_as_of.endswith("+08:00")
    cadres = await scoring_client.get(
        "/v1/scores/cadres.csv", params={"period": PERIOD}, headers=bearer(people["supervisor"])
    )
    assert cadres.status_code == 200 and "cadre_score" in cadres.text.splitlines()[0]
    cadre_rows = list(csv.DictReader(io.StringIO(cadres.content.decode("utf-8").lstrip("\ufeff"))))
    assert cadre_rows and all(row["as_of"].endswith("+08:00") for row in cadre_rows)


async def test_staff_see_only_their_subtree(session, scoring_client):
    s, people, _ = await setup(session)
    await start_run(scoring_client, people["supervisor"])
    district = bearer(people["district"])
    listed = await scoring_client.get("/v1/scores/units", params={"period": PERIOD}, headers=district)
    assert {item["code"] for item in listed.json()["items"]} == {"330205", "330205001", "330205001001", C}
    outside = await scoring_client.get(f"/v1/scores/units/{A}", params={"period": PERIOD}, headers=district)
    assert outside.status_code == 404
    assert outside.headers["content-type"] == PROBLEM
    city_department = await scoring_client.get("/v1/scores/departments/HB", params={"period": PERIOD}, headers=district)
    assert city_department.status_code == 404
    handler = bearer(s["handlers"][A][0])
    own = await scoring_client.get("/v1/scores/cadres", params={"period": PERIOD}, headers=handler)
    # A handler scoped to grid A sees the grid's two handlers (scope is the subtree), nobody else.
    assert sorted(item["staff_id"] for item in own.json()["items"]) == sorted(h.id for h in s["handlers"][A])
    # Rankings: ranked city-wide, shown within scope.
    ranking = await scoring_client.get(
        "/v1/rankings", params={"period": PERIOD, "level": "grid"}, headers=bearer(people["supervisor"])
    )
    assert [(i["code"], i["rank"]) for i in ranking.json()["items"]] == [(B, 1), (A, 2)]
    assert ranking.json()["ranked"] == 2
    scoped = await scoring_client.get(
        "/v1/rankings", params={"period": PERIOD, "level": "grid", "metric": "return_rate"}, headers=district
    )
    assert scoped.json()["order"] == "asc"
    assert [(i["code"], i["value"]) for i in scoped.json()["items"]] == [(C, scoped.json()["items"][0]["value"])]
    assert scoped.json()["ranked"] == 3


async def test_public_disclosure_needs_no_login_and_shows_no_people(session, scoring_client):
    s, people, _ = await setup(session)
    leader = await make_staff(session, "leader_wang", "supervisor", s["units"]["330203"])
    await make_leader_link(session, leader, org_unit_id=s["units"]["330203001"].id, quota_month=2, created_at=OCT)
    await session.commit()
    run = (await start_run(scoring_client, people["supervisor"])).json()
    # Finished but not published: internal only.
    unpublished = await scoring_client.get("/v1/public/scores", params={"period": PERIOD, "level": "grid"})
    assert unpublished.status_code == 404
    published = await scoring_client.post(f"/v1/scores/runs/{run['id']}/publish", headers=bearer(people["supervisor"]))
    assert published.status_code == 200, published.text
    answer = await scoring_client.get("/v1/public/scores", params={"period": PERIOD, "level": "grid"})
    assert answer.status_code == 200
    assert answer.json()["run_id"] == run["id"] and answer.json()["published_at"] is not None
    assert answer.headers["cache-control"] == "public, max-age=60"
    items = {item["code"]: item for item in answer.json()["items"]}
    assert items[A]["response_rate"] == 0.5 and items[A]["rank"] == 2
    assert set(items[A]) == {
        "level", "code", "name", "parent_code", "evaluated", "response_rate", "resolution_rate",
        "satisfaction_rate", "three_rate_score", "satisfaction_index", "rank", "ranked", "unranked_reason",
    }  # fmt: skip
    contacts = await scoring_client.get("/v1/public/leader-contacts", params={"period": PERIOD})
    assert contacts.status_code == 200
    assert contacts.json()["items"] == [
        {
            "post": "区委书记",
            "unit_kind": "org_unit",
            "unit_code": "330203001",
            "unit_name": s["units"]["330203001"].name,
            "links": 1,
            "quota": 2,
            "contacts": 0,
            "met": 0,
        }
    ]
    assert "leader_wang" not in contacts.text


async def test_errors_are_problems_naming_the_field(session, scoring_client):
    s, people, _ = await setup(session)
    supervisor = bearer(people["supervisor"])
    bad = await scoring_client.get("/v1/scores/units", params={"period": "2026-13"}, headers=supervisor)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.period"
    old = await scoring_client.get("/v1/scores/units", params={"period": "1999"}, headers=supervisor)
    assert old.status_code == 422 and old.json()["errors"][0]["field"] == "query.period"
    none = await scoring_client.get("/v1/scores/units", params={"period": "2026-09"}, headers=supervisor)
    assert none.status_code == 404 and none.headers["content-type"] == PROBLEM
    future = await scoring_client.post(
        "/v1/scores/runs", json={"period": PERIOD, "as_of": "2099-01-01T00:00:00+08:00"}, headers=supervisor
    )
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "as_of"
    scheme = await scoring_client.post(
        "/v1/scores/runs", json={"period": PERIOD, "scheme_version": 7}, headers=supervisor
    )
    assert scheme.status_code == 422 and scheme.json()["errors"][0]["field"] == "scheme_version"
    handler = await scoring_client.post("/v1/scores/runs", json={"period": PERIOD}, headers=bearer(s["handlers"][A][0]))
    assert handler.status_code == 403
    missing = await scoring_client.get("/v1/scores/runs/999", headers=supervisor)
    assert missing.status_code == 404
    public = await scoring_client.get("/v1/public/scores", params={"period": "2026-Q5"})
    assert public.status_code == 422

"""Numbers as people read them, and no score without data (SPEC §12), through the API.

Data: the small fixture of tests/services/scoring/test_small_city.py. Grid C (and so district 330205, its
street and community) only returned a request: no response, resolution or satisfaction data at all.
"""

import csv
import io

import pytest

from tests.factories import bearer
from tests.scoring_service.test_api import setup, start_run
from tests.services.scoring.helpers import PERIOD, A, B, C, stored

NO_DATA_DISTRICT = "330205"


async def test_units_without_data_are_null_unranked_and_listed_apart(session, scoring_client):
    _, people, _ = await setup(session)
    supervisor = bearer(people["supervisor"])
    run = (await start_run(scoring_client, people["supervisor"])).json()

    districts = await scoring_client.get(
        "/v1/scores/units", params={"period": PERIOD, "level": "district"}, headers=supervisor
    )
    empty = {item["code"]: item for item in districts.json()["items"]}[NO_DATA_DISTRICT]
    # No requests to judge it on: no score, no grade, no rank, and the reason; never the prior's value.
    assert empty["three_rate_score"]["value"] is None and empty["grade"] is None and empty["rank"] is None
    assert empty["satisfaction_index"]["value"] is None
    assert empty["unranked_reason"].startswith("no data")
    response = empty["rates"]["response_rate"]
    assert (response["value"], response["shrunk"], response["n"]) == (None, None, 0)
    assert response["reason"].startswith("no data (n = 0)")
    assert set(empty["three_rate_score"]["missing_reasons"]) == {"response", "resolution", "satisfaction"}

    ranking = await scoring_client.get("/v1/rankings", params={"period": PERIOD, "level": "grid"}, headers=supervisor)
    assert [i["code"] for i in ranking.json()["items"]] == [B, A]
    assert ranking.json()["unranked_total"] == 1
    assert [(i["code"], i["reason"][:7]) for i in ranking.json()["unranked"]] == [(C, "no data")]

    published = await scoring_client.post(f"/v1/scores/runs/{run['id']}/publish", headers=supervisor)
    assert published.status_code == 200, published.text
    public = (await scoring_client.get("/v1/public/scores", params={"period": PERIOD, "level": "grid"})).json()
    assert sorted(i["code"] for i in public["items"]) == [A, B]
    [apart] = public["unranked"]
    assert apart["code"] == C and apart["rank"] is None and apart["unranked_reason"].startswith("no data")
    assert (apart["response_rate"], apart["three_rate_score"], apart["satisfaction_index"]) == (None, None, None)


async def test_answers_are_rounded_as_the_scheme_says_and_storage_stays_exact(session, scoring_client):
    _, people, _ = await setup(session)
    supervisor = bearer(people["supervisor"])
    started = (await start_run(scoring_client, people["supervisor"])).json()
    detail = (await scoring_client.get(f"/v1/scores/units/{A}", params={"period": PERIOD}, headers=supervisor)).json()
    # Grid A's shrunk response rate is 64/98 = 0.653061… (test_small_city.py): 4 decimals in answers.
    assert detail["rates"]["response_rate"]["shrunk"] == 0.6531
    exact_score = 100 * (0.2 * 64 / 98 + 0.4 + 0.36)  # 89.06…
    assert detail["three_rate_score"]["value"] == round(exact_score, 1) == 89.1
    # The breakdown says how much of the shrunk value is data: 4 observations, prior strength 10 → 4/14.
    share = detail["breakdown"]["shrinkage"]["response_rate"]
    assert share["data_weight"] == 4 / 14 and share["prior_strength"] == 10.0
    assert detail["breakdown"]["shrinkage"]["reopen_rate"]["n"] == 2

    csv_text = (
        await scoring_client.get("/v1/scores/units.csv", params={"period": PERIOD, "level": "grid"}, headers=supervisor)
    ).content.decode("utf-8")
    row = {r["code"]: r for r in csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))}[A]
    assert row["response_rate_shrunk"] == "0.6531" and row["three_rate_score"] == "89.1"

    ranking = await scoring_client.get("/v1/rankings", params={"period": PERIOD, "level": "grid"}, headers=supervisor)
    assert {i["code"]: i["value"] for i in ranking.json()["items"]}[A] == 89.1

    # Storage keeps the exact value, and verification compares exact values.
    from services.models import ScoreRun

    run = await session.get(ScoreRun, started["id"])
    exact = (await stored(session, run, "grid", A))["rates"]["response_rate"]["shrunk"]
    assert exact == pytest.approx(64 / 98, abs=1e-15) and exact != 0.6531
    verified = await scoring_client.post(f"/v1/scores/runs/{started['id']}/verify", headers=bearer(people["auditor"]))
    assert verified.json()["matches"] is True

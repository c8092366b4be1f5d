"""Publication (公示): only runs a supervisor published are public (SPEC §12); appeals decided after publication
make a corrected run that is republished with its changes; appeals are steps of the request's trail."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from scoring_service.cache import public_cache
from services.lifecycle.events import verify_chain
from services.models import AdminAuditEntry, RequestEvent, ScoreRun, ScoringScheme
from services.scoring import service
from shared.db import unit_of_work
from tests.factories import bearer
from tests.kit import PROBLEM
from tests.scoring_service.test_appeals import appeal_body
from tests.scoring_service.test_jobs import long_queue_worker
from tests.services.scoring.helpers import AS_OF, PERIOD, A, small_fixture_with_people


async def setup(session):
    return await small_fixture_with_people(session, "admin", "supervisor", "district", "auditor")


async def run(client, who, as_of=AS_OF, **body):
    answer = await client.post(
        "/v1/scores/runs", json={"period": PERIOD, "as_of": as_of.isoformat(), **body}, headers=bearer(who)
    )
    assert answer.status_code in (201, 202), answer.text
    return answer.json()


async def drain_long_queue() -> None:
    """Run the queued runs (corrections), then forget cached public pages (they live 60 s in production)."""
    worker = long_queue_worker()
    await worker.main()
    assert worker.jobs_failed == 0
    await worker.close()
    public_cache.clear()


async def test_only_published_runs_are_public(session, scoring_client):
    _, people, _ = await setup(session)
    supervisor = bearer(people["supervisor"])
    first = await run(scoring_client, people["supervisor"])
    assert first["published_at"] is None
    for path in ("/v1/public/scores", "/v1/public/leader-contacts"):
        hidden = await scoring_client.get(path, params={"period": PERIOD})
        assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM
    # Who publishes: a supervisor or admin scoped to the whole city.
    assert (
        await scoring_client.post(f"/v1/scores/runs/{first['id']}/publish", headers=bearer(people["district"]))
    ).status_code == 403
    assert (
        await scoring_client.post(f"/v1/scores/runs/{first['id']}/publish", headers=bearer(people["auditor"]))
    ).status_code == 403
    assert (await scoring_client.post("/v1/scores/runs/999999/publish", headers=supervisor)).status_code == 404
    published = await scoring_client.post(f"/v1/scores/runs/{first['id']}/publish", headers=supervisor)
    assert published.status_code == 200, published.text
    assert published.json()["published_at"] is not None
    assert published.json()["published_by"] == f"staff:{people['supervisor'].id}"
    again = await scoring_client.post(f"/v1/scores/runs/{first['id']}/publish", headers=supervisor)
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM

    # A later run, finished but not published: staff read it, the public still reads the published one.
    later = await run(scoring_client, people["supervisor"], as_of=AS_OF + timedelta(days=1))
    public = (await scoring_client.get("/v1/public/scores", params={"period": PERIOD})).json()
    assert (public["run_id"], public["scheme_version"]) == (first["id"], 1)
    assert public["as_of"] == "2026-11-20T08:00:00+08:00"
    assert public["published_at"] == published.json()["published_at"]
    assert public["corrects_run_id"] is None and public["changes"] == []
    contacts = (await scoring_client.get("/v1/public/leader-contacts", params={"period": PERIOD})).json()
    assert contacts["run_id"] == first["id"]
    internal = await scoring_client.get("/v1/scores/units", params={"period": PERIOD}, headers=supervisor)
    assert internal.json()["items"][0]["run_id"] == later["id"]

    # Only a finished run is published.
    queued = await run(scoring_client, people["supervisor"], background=True)
    refused = await scoring_client.post(f"/v1/scores/runs/{queued['id']}/publish", headers=bearer(people["admin"]))
    assert refused.status_code == 409
    # Publishing the later run makes it the public one.
    assert (
        await scoring_client.post(f"/v1/scores/runs/{later['id']}/publish", headers=bearer(people["admin"]))
    ).status_code == 200
    assert (await scoring_client.get("/v1/public/scores", params={"period": PERIOD})).json()["run_id"] == later["id"]


async def test_a_scheme_may_publish_runs_after_a_delay(session, scoring_client):
    _, people, _ = await setup(session)
    done = await run(scoring_client, people["supervisor"])
    async with unit_of_work() as uow:
        assert await service.publish_due_runs(uow) == []  # the scheme does not publish by itself
        await uow.execute(
            update(ScoringScheme)
            .where(ScoringScheme.version == 1)
            .values(document=ScoringScheme.document.op("||")({"publish_after_days": 3}))
        )
    async with unit_of_work() as uow:
        assert await service.publish_due_runs(uow) == []  # not yet three days
        assert await service.publish_due_runs(uow, datetime.now(UTC) + timedelta(days=3, minutes=1)) == [done["id"]]
    public = (await scoring_client.get("/v1/public/scores", params={"period": PERIOD})).json()
    assert public["run_id"] == done["id"]


async def trail(session, request_id):
    return list(
        await session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == request_id).order_by(RequestEvent.seq)
        )
    )


async def test_appeals_are_in_the_trail_and_a_decision_after_publication_republishes(session, scoring_client):
    s, people, facts = await setup(session)
    r4 = facts["r4"].id
    supervisor = bearer(people["supervisor"])
    filed = (
        await scoring_client.post("/v1/scores/appeals", json=appeal_body(r4), headers=bearer(s["handlers"][A][1]))
    ).json()
    # Published before the decision.
    original = await run(scoring_client, people["supervisor"], as_of=datetime.now(UTC))
    assert (
        await scoring_client.post(f"/v1/scores/runs/{original['id']}/publish", headers=supervisor)
    ).status_code == 200
    before = (await scoring_client.get("/v1/public/scores", params={"period": PERIOD, "level": "grid"})).json()
    assert {i["code"]: i["response_rate"] for i in before["items"]}[A] == 0.5

    decided = await scoring_client.post(
        f"/v1/scores/appeals/{filed['id']}/decision",
        json={"decision": "approved", "note": "核实属实，予以核减", "version": 1},
        headers=supervisor,
    )
    assert decided.status_code == 200, decided.text
    [correction] = (await session.scalars(select(ScoreRun).where(ScoreRun.corrects_run_id == original["id"]))).all()
    assert (correction.status, correction.as_of, correction.scheme_version) == (
        "queued",
        datetime.fromisoformat(original["as_of"]),
        original["scheme_version"],
    )
    await drain_long_queue()
    corrected = (await scoring_client.get(f"/v1/scores/runs/{correction.id}", headers=supervisor)).json()
    assert corrected["status"] == "done" and corrected["published_at"] is not None
    assert corrected["published_by"] == "system:scoring" and corrected["corrects_run_id"] == original["id"]
    changed = {(c["level"], c["code"], c["figure"]): (c["old"], c["new"]) for c in corrected["changes"]}
    assert changed[("grid", A, "counts.response_due")] == (4, 3)
    assert (await scoring_client.get(f"/v1/scores/runs/{original['id']}", headers=supervisor)).json()[
        "superseded_by_id"
    ] == correction.id
    public = (await scoring_client.get("/v1/public/scores", params={"period": PERIOD, "level": "grid"})).json()
    assert (public["run_id"], public["corrects_run_id"], public["as_of"]) == (
        correction.id,
        original["id"],
        original["as_of"],
    )
    assert any(c["code"] == A and c["figure"] == "response_rate" for c in public["changes"])
    assert all(c["level"] in ("city", "district", "street", "community", "grid") for c in public["changes"])

    # Revocation: only an approved appeal, with the version read; the figures come back.
    no_version = await scoring_client.post(
        f"/v1/scores/appeals/{filed['id']}/revoke", json={"reason": "复核：确属网格职责"}, headers=supervisor
    )
    assert no_version.status_code == 428
    handler = await scoring_client.post(
        f"/v1/scores/appeals/{filed['id']}/revoke",
        json={"reason": "x", "version": 2},
        headers=bearer(s["handlers"][A][0]),
    )
    assert handler.status_code == 403
    empty = await scoring_client.post(
        f"/v1/scores/appeals/{filed['id']}/revoke", json={"reason": "", "version": 2}, headers=supervisor
    )
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "reason"
    revoked = await scoring_client.post(
        f"/v1/scores/appeals/{filed['id']}/revoke",
        json={"reason": "复核：确属网格职责", "version": 2},
        headers=supervisor,
    )
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["revoke_reason"], revoked.json()["version"]) == (
        "revoked",
        "复核：确属网格职责",
        3,
    )
    twice = await scoring_client.post(
        f"/v1/scores/appeals/{filed['id']}/revoke", json={"reason": "again", "version": 3}, headers=supervisor
    )
    assert twice.status_code == 409
    await drain_long_queue()
    public = (await scoring_client.get("/v1/public/scores", params={"period": PERIOD, "level": "grid"})).json()
    assert public["corrects_run_id"] == correction.id
    assert {i["code"]: i["response_rate"] for i in public["items"]}[A] == 0.5
    # The approval still holds for runs counting decisions before the revocation (the first correction).
    assert (await scoring_client.post(f"/v1/scores/runs/{correction.id}/verify", headers=supervisor)).json()["matches"]

    # The trail: filing, approval and revocation, with their evidence, on an unbroken chain.
    events = await trail(session, r4)
    steps = [(e.kind, e.note, e.data["appeal_id"]) for e in events if e.kind.startswith("appeal_")]
    assert steps == [
        ("appeal_filed", "物业合同纠纷，非网格职责。", filed["id"]),
        ("appeal_approved", "核实属实，予以核减", filed["id"]),
        ("appeal_revoked", "复核：确属网格职责", filed["id"]),
    ]
    assert verify_chain(events) is None
    approved = next(e for e in events if e.kind == "appeal_approved")
    assert approved.actor == f"staff:{people['supervisor'].id}" and approved.data["corrected_runs"] == [correction.id]
    actions = set(
        await session.scalars(select(AdminAuditEntry.action).where(AdminAuditEntry.target_kind == "score_appeal"))
    )
    assert actions == {"appeal.decided", "appeal.revoked"}


async def test_a_rejection_is_in_the_trail_and_corrects_nothing(session, scoring_client):
    s, people, facts = await setup(session)
    r4 = facts["r4"].id
    supervisor = bearer(people["supervisor"])
    filed = (
        await scoring_client.post("/v1/scores/appeals", json=appeal_body(r4), headers=bearer(s["handlers"][A][1]))
    ).json()
    original = await run(scoring_client, people["supervisor"], as_of=datetime.now(UTC))
    assert (
        await scoring_client.post(f"/v1/scores/runs/{original['id']}/publish", headers=supervisor)
    ).status_code == 200
    rejected = await scoring_client.post(
        f"/v1/scores/appeals/{filed['id']}/decision",
        json={"decision": "rejected", "note": "属于网格职责", "version": 1},
        headers=supervisor,
    )
    assert rejected.status_code == 200
    assert (await session.scalars(select(ScoreRun.id).where(ScoreRun.corrects_run_id.is_not(None)))).all() == []
    revoke = await scoring_client.post(
        f"/v1/scores/appeals/{filed['id']}/revoke", json={"reason": "x", "version": 2}, headers=supervisor
    )
    assert revoke.status_code == 409
    kinds = [(e.kind, e.note) for e in await trail(session, r4) if e.kind.startswith("appeal_")]
    assert kinds == [("appeal_filed", "物业合同纠纷，非网格职责。"), ("appeal_rejected", "属于网格职责")]


async def test_publishing_a_run_made_before_an_approval_corrects_it(session, scoring_client):
    s, people, facts = await setup(session)
    supervisor = bearer(people["supervisor"])
    original = await run(scoring_client, people["supervisor"], as_of=datetime.now(UTC))
    filed = (
        await scoring_client.post(
            "/v1/scores/appeals", json=appeal_body(facts["r4"].id), headers=bearer(s["handlers"][A][1])
        )
    ).json()
    await scoring_client.post(
        f"/v1/scores/appeals/{filed['id']}/decision", json={"decision": "approved", "version": 1}, headers=supervisor
    )
    assert (
        await scoring_client.post(f"/v1/scores/runs/{original['id']}/publish", headers=supervisor)
    ).status_code == 200
    await drain_long_queue()
    public = (await scoring_client.get("/v1/public/scores", params={"period": PERIOD, "level": "grid"})).json()
    assert public["corrects_run_id"] == original["id"]
    assert {i["code"]: i["response_rate"] for i in public["items"]}[A] != 0.5

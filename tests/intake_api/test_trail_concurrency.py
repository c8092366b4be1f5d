"""Appending to a request's audit trail under concurrency: reads that log never fail, actions never race."""

import asyncio

import pytest
from sqlalchemy import select

from services.models import RequestEvent
from tests.factories import at_grid, bearer
from tests.kit import handler_of, routed_request


@pytest.fixture
async def routed(session, intake_client, setup):
    request = await routed_request(intake_client, session, setup, at_grid(0))
    return setup, request, handler_of(setup, request)


async def _trail(intake_client, request_id, auth):
    r = await intake_client.get(f"/v1/requests/{request_id}/events", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


async def test_concurrent_pii_reveals_all_answer_and_each_is_audited(session, intake_client, routed):
    setup, request, _ = routed
    auth = bearer(setup["dispatcher"])
    url = f"/v1/requests/{request.id}"
    for _ in range(5):
        answers = await asyncio.gather(
            *(intake_client.get(url, params={"reveal_pii": True}, headers=auth) for _ in range(6))
        )
        assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers if a.status_code != 200]
        assert all(a.json()["citizen"]["phone"] == "13800001234" for a in answers)
    trail = await _trail(intake_client, request.id, auth)
    assert trail["chain_intact"]
    assert [e["kind"] for e in trail["items"]].count("pii_viewed") == 30
    assert [e["seq"] for e in trail["items"]] == list(range(1, len(trail["items"]) + 1))


async def test_reveals_during_handler_actions_neither_fail(session, intake_client, routed):
    setup, request, handler = routed
    url = f"/v1/requests/{request.id}"
    handler_auth, dispatcher_auth = bearer(handler), bearer(setup["dispatcher"])
    r = await intake_client.post(f"{url}/accept", json={"note": "已受理"}, headers=handler_auth)
    assert r.status_code == 200, r.text
    notes = [intake_client.post(f"{url}/note", json={"text": f"进展{i}"}, headers=handler_auth) for i in range(4)]
    reveals = [
        intake_client.get(url, params={"reveal_pii": True}, headers=h) for h in (handler_auth, dispatcher_auth) * 3
    ]
    answers = await asyncio.gather(*notes, *reveals)
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers if a.status_code != 200]
    rows = (
        (await session.execute(select(RequestEvent.kind).where(RequestEvent.request_id == request.id))).scalars().all()
    )
    assert rows.count("note") == 4 and rows.count("pii_viewed") == 6
    assert (await _trail(intake_client, request.id, dispatcher_auth))["chain_intact"]

"""API6:2023 Unrestricted Access to Sensitive Business Flows: tracking numbers cannot be enumerated
(one 404 for every miss, rate-limited, not sequential) and an evaluation cannot be replayed."""

import itertools
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tracking import is_well_formed
from services.models import Feedback, Request
from tests.factories import at_grid
from tests.kit import PROBLEM, accept_and_resolve, create_request, routed_to_handler
from tests.settings import set_setting


def _neighbour(number: str) -> str:
    """Another well-formed tracking number (valid check digit) that differs in the random part."""
    stem = number[:-2] + ("0" if number[-2] != "0" else "1")
    return stem + next(d for d in "0123456789" if is_well_formed(stem + d))


async def test_every_tracking_miss_answers_the_same_404(intake_client: Any, setup: dict[str, Any]) -> None:
    created = await create_request(intake_client, setup["key"])
    number = created["tracking_no"]
    misses = [
        (number, {"phone_last4": "0000"}),  # right number, wrong digits
        (number, {"citizen_token": "guess"}),  # right number, wrong token
        (number, {}),  # right number, no proof
        (_neighbour(number), {"phone_last4": "1234"}),  # unknown but well-formed number
        (number[:-1] + str((int(number[-1]) + 1) % 10), {"phone_last4": "1234"}),  # bad check digit
        ("123", {"phone_last4": "1234"}),  # malformed
        ("' OR 1=1 --", {"phone_last4": "1234"}),
    ]
    bodies = set()
    for tracking_no, params in misses:
        answer = await intake_client.get(f"/v1/track/{tracking_no}", params=params)
        assert answer.status_code == 404, (tracking_no, params, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        body = answer.json()
        bodies.add((body["title"], body["detail"], body["type"]))
        feedback = await intake_client.post(
            f"/v1/track/{tracking_no}/feedback", json={**params, "resolved": True, "satisfaction": "satisfied"}
        )
        assert feedback.status_code in (404, 422), feedback.text
        if feedback.status_code == 404:
            body = feedback.json()
            bodies.add((body["title"], body["detail"], body["type"]))
    assert len(bodies) == 1, bodies


async def test_enumerating_tracking_numbers_is_rate_limited_across_numbers(
    intake_client: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_setting(monkeypatch, "citizen_rate_per_minute", 10)
    created = await create_request(intake_client, setup["key"])
    number = created["tracking_no"]
    guesses = [f"{n:04d}" for n in range(12)]
    statuses = [
        (await intake_client.get(f"/v1/track/{number}", params={"phone_last4": guess})).status_code for guess in guesses
    ]
    assert statuses[:10] == [404] * 10 and statuses[10:] == [429, 429]
    # Switching to other numbers does not reset the budget: it is per address, not per number.
    other = await intake_client.get(f"/v1/track/{_neighbour(number)}", params={"phone_last4": "1234"})
    assert other.status_code == 429
    # The right answer is refused too while limited, so a guess cannot be confirmed by a 200.
    right = await intake_client.get(f"/v1/track/{number}", params={"phone_last4": "1234"})
    assert right.status_code == 429


async def test_tracking_numbers_are_not_sequential(intake_client: Any, setup: dict[str, Any]) -> None:
    numbers = [(await create_request(intake_client, setup["key"], at_grid(n % 3)))["tracking_no"] for n in range(4)]
    assert len(set(numbers)) == 4
    assert all(len(n) == 15 and n.isdigit() and is_well_formed(n) for n in numbers)
    gaps = {int(b) - int(a) for a, b in itertools.pairwise(numbers)}
    assert not gaps & {1, 10}, "consecutive numbers must not differ by a step"


async def test_an_evaluation_cannot_be_replayed_by_the_citizen_or_an_integration(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request, auth = await routed_to_handler(intake_client, session, setup)
    base = f"/v1/requests/{request.id}"
    await accept_and_resolve(intake_client, request, auth, "好")
    good = {"phone_last4": "1234", "resolved": True, "satisfaction": "satisfied"}
    first = await intake_client.post(f"/v1/track/{request.tracking_no}/feedback", json=good)
    assert first.status_code == 200 and first.json()["status"] == "closed"
    replay = await intake_client.post(f"/v1/track/{request.tracking_no}/feedback", json=good)
    assert replay.status_code == 409
    by_token = await intake_client.post(
        f"/v1/track/{request.tracking_no}/feedback",
        json={"citizen_token": "x" * 20, "resolved": False, "satisfaction": "dissatisfied"},
    )
    assert by_token.status_code == 404
    integration = await intake_client.post(
        f"{base}/feedback", json={"resolved": False, "satisfaction": "dissatisfied"}, headers=setup["key"]
    )
    assert integration.status_code == 409
    assert await session.scalar(select(func.count()).select_from(Feedback)) == 1
    stored = await session.get(Request, request.id, populate_existing=True)
    assert (stored.status, stored.reopen_count) == ("closed", 0)


async def test_a_negative_evaluation_reopens_once_and_cannot_be_replayed_to_reopen_again(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request, auth = await routed_to_handler(intake_client, session, setup)
    await accept_and_resolve(intake_client, request, auth, "好")
    bad = {"phone_last4": "1234", "resolved": False, "satisfaction": "dissatisfied"}
    first = await intake_client.post(f"/v1/track/{request.tracking_no}/feedback", json=bad)
    assert first.json()["reopened"] is True
    # Reopened and not yet resolved again: a replay is refused, it cannot stack a second reopening.
    replay = await intake_client.post(f"/v1/track/{request.tracking_no}/feedback", json=bad)
    assert replay.status_code == 409
    stored = await session.get(Request, request.id, populate_existing=True)
    assert stored.reopen_count == 1


async def test_an_idempotency_key_cannot_be_reused_for_another_body(intake_client: Any, setup: dict[str, Any]) -> None:
    headers = {**setup["key"], "Idempotency-Key": "call-81890-0001"}
    first = await intake_client.post("/v1/requests", json=at_grid(0), headers=headers)
    assert first.status_code == 201
    again = await intake_client.post("/v1/requests", json=at_grid(0), headers=headers)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = await intake_client.post("/v1/requests", json=at_grid(1), headers=headers)
    assert other.status_code == 409

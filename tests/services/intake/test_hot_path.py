"""The intake hot path: its SQL comes from the table definitions, and whether its insert shares the
unit of work's transaction is the caller's explicit choice."""

from typing import Any

import pytest
from sqlalchemy import func, select

from services.intake import repository as repo
from services.intake import service
from services.intake.schemas import RequestCreate, VisitCreate
from services.models import OutboxEntry, Request, RequestEvent, Visit
from shared.auth import Principal
from shared.db import get_sessionmaker, unit_of_work
from shared.errors import InvalidInput
from tests.factories import make_catalog, make_small_city, make_staff, request_body


class AfterTheInsert(Exception):
    """Something in the same unit of work failing after the request was inserted."""


async def _city_and_staff(role: str = "clerk") -> Principal:
    async with unit_of_work() as session:
        units = await make_small_city(session)
        await make_catalog(session)
        staff = await make_staff(session, role, role, units["3302"])
        return Principal(kind="staff", id=staff.id, name=role, role=role, scope_path=units["3302"].path)


async def _counts() -> tuple[int, int, int]:
    async with get_sessionmaker()() as session:
        rows = await session.execute(
            select(
                select(func.count()).select_from(Request).scalar_subquery(),
                select(func.count()).select_from(RequestEvent).scalar_subquery(),
                select(func.count()).select_from(OutboxEntry).scalar_subquery(),
            )
        )
        requests, events, outbox = rows.one()
        return requests, events, outbox


def _body(**overrides: Any) -> RequestCreate:
    return RequestCreate.model_validate(request_body(**overrides))


def test_insert_names_every_column_intake_fills():
    """Every column of `requests` is either written at intake or left to a default routing fills later."""
    table_columns = {c.name for c in Request.__table__.columns}
    assert set(repo.REQUEST_COLUMNS) | repo._REQUEST_FILLED_LATER == table_columns
    assert not set(repo.REQUEST_COLUMNS) & repo._REQUEST_FILLED_LATER
    assert set(repo.EVENT_COLUMNS) == {c.name for c in RequestEvent.__table__.columns} - {"id", "request_id"}
    placeholders = len(repo.REQUEST_COLUMNS) + len(repo.EVENT_COLUMNS) + len(repo.OUTBOX_COLUMNS)
    assert f"${placeholders}" in repo.INSERT_REQUEST_SQL
    assert f"${placeholders + 1}" not in repo.INSERT_REQUEST_SQL


async def _warm_caches(principal: Principal) -> None:
    """Create one request, so category, policies, calendar and city extent come from the caches after it."""
    async with unit_of_work() as session:
        await service.create_request(session, principal, _body(), idempotency_key=None, raw_body=None)


async def test_hot_path_insert_commits_on_its_own():
    """Without an Idempotency-Key (nothing else to write) the insert does not wait for the unit of work."""
    principal = await _city_and_staff()
    await _warm_caches(principal)
    before = await _counts()
    with pytest.raises(AfterTheInsert):
        async with unit_of_work() as session:
            await service.create_request(session, principal, _body(), idempotency_key=None, raw_body=None)
            raise AfterTheInsert
    assert await _counts() == (before[0] + 1, before[1] + 1, before[2] + 1)


async def test_insert_with_idempotency_key_rolls_back_with_the_unit_of_work():
    """With an Idempotency-Key the request and the key's answer commit together, or neither does."""
    principal = await _city_and_staff()
    await _warm_caches(principal)
    before = await _counts()
    body = request_body()
    with pytest.raises(AfterTheInsert):
        async with unit_of_work() as session:
            await service.create_request(
                session, principal, RequestCreate.model_validate(body), idempotency_key="k-1", raw_body=body
            )
            raise AfterTheInsert
    assert await _counts() == before


async def test_joined_insert_begins_the_transaction_itself():
    """`join_transaction=True` on a session that has run no statement yet still rolls back with it."""
    principal = await _city_and_staff()
    await _warm_caches(principal)
    before = await _counts()
    with pytest.raises(AfterTheInsert):
        async with unit_of_work() as session:
            await service._create(session, principal, _body(), join_transaction=True)
            raise AfterTheInsert
    assert await _counts() == before


async def test_a_visit_and_its_requests_commit_together():
    """A visit's requests join the visit's transaction: when one of them is refused, none is kept."""
    principal = await _city_and_staff("dispatcher")
    await _warm_caches(principal)
    before = await _counts()
    data = VisitCreate.model_validate(
        {
            "kind": "household",
            "org_unit_code": "330203001001",
            "visited_at": "2026-01-05T10:00:00+08:00",
            "requests": [
                request_body(channel="visit"),
                request_body(channel="visit", category="no.such.category"),
            ],
        }
    )
    with pytest.raises(InvalidInput):
        async with unit_of_work() as session:
            await service.create_visit(session, principal, data)
    assert await _counts() == before
    async with get_sessionmaker()() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 0

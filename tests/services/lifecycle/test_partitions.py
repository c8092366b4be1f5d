"""Monthly partitions (issue 17, item 5): requests and their trails go to their month's partition once the
roll job has moved the id sequence there; everything reads and references them as before; the roll is
idempotent; the upgrade of an existing database keeps every row, in the legacy partition, and the tracking
numbers stay unique across partitions."""

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from services.intake import service as intake_service
from services.intake.repository import events_of
from services.lifecycle import partitions
from services.lifecycle.events import verify_chain
from shared.db import unit_of_work
from tests.factories import make_handling_setup
from tests.kit import accept_and_resolve, create_request, routed_to_handler

pure = pytest.mark.pure


@pure
@given(year=st.integers(min_value=2020, max_value=2100), month=st.integers(min_value=1, max_value=12))
def test_every_month_owns_its_own_id_range_in_order_and_within_javascripts_integers(year: int, month: int) -> None:
    start = partitions.first_id(year, month)
    assert partitions.month_of_id(start) == (year, month)
    assert partitions.month_of_id(start + partitions.IDS_A_MONTH - 1) == (year, month)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    assert partitions.first_id(*following) == start + partitions.IDS_A_MONTH
    assert start + partitions.IDS_A_MONTH < 2**53  # ids stay exact in a browser


def _months_after_legacy(session_bounds: dict[str, list[tuple[str, int | None, int | None]]]) -> tuple[int, int]:
    """The first month no partition covers yet (after the legacy one and the month the upgrade made)."""
    highest = max(high for _, _, high in session_bounds["requests"] if high is not None)
    return partitions.month_of_id(highest)


@pytest.fixture
async def later_month(session: Any) -> AsyncIterator[tuple[int, int]]:
    """A month the migration made no partition for; the partitions the test rolls are dropped afterwards."""
    month = _months_after_legacy(await partitions.partitions(session))
    await session.rollback()
    yield month
    await session.rollback()  # dropping a partition waits for every open transaction on the table
    async with unit_of_work() as cleanup:
        # What the next test's clean state would truncate anyway: a partition with referenced rows cannot go.
        await cleanup.execute(text("TRUNCATE requests CASCADE"))
        for table in reversed(partitions.PARTITIONED):
            for name, low, _ in await partitions._bounds(cleanup, table):
                if low is not None and low >= partitions.first_id(*month):
                    await cleanup.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
                    await cleanup.execute(text(f"DROP TABLE {name}"))
        await cleanup.execute(text("SELECT setval('requests_id_seq', 1, false)"))


async def test_after_the_roll_a_request_and_its_trail_live_in_their_months_partition(
    session: Any, intake_client: Any, later_month: tuple[int, int]
) -> None:
    setup = await make_handling_setup(session)
    await session.commit()
    year, month = later_month
    at = datetime(year, month, 1, 9, 0, tzinfo=UTC)
    async with unit_of_work() as s:
        rolled = await partitions.roll(s, at)
    expected = {
        partitions.partition_name(t, *m) for t in partitions.PARTITIONED for m in (later_month, _next(later_month))
    }
    assert set(rolled.created) == expected
    assert rolled.sequence_moved_to == partitions.first_id(year, month)
    async with unit_of_work() as s:
        again = await partitions.roll(s, at)
    assert again.created == () and again.sequence_moved_to is None  # idempotent

    request, handler = await routed_to_handler(intake_client, session, setup)
    await accept_and_resolve(intake_client, request, handler)
    assert partitions.month_of_id(request.id) == later_month
    where = await session.execute(
        text(
            "SELECT (SELECT tableoid::regclass::text FROM requests WHERE id = :id),"
            " (SELECT array_agg(DISTINCT tableoid::regclass::text) FROM request_events WHERE request_id = :id),"
            " (SELECT count(*) FROM assignments WHERE request_id = :id)"
        ),
        {"id": request.id},
    )
    request_table, event_tables, assignments = where.one()
    assert request_table == partitions.partition_name("requests", year, month)
    assert event_tables == [partitions.partition_name("request_events", year, month)]
    assert assignments >= 1  # the keys referencing a request reach into the partition
    assert verify_chain(await events_of(session, request.id)) is None  # the trail holds in its partition
    read = await intake_client.get(f"/v1/requests/{request.id}", headers=handler)
    assert read.status_code == 200 and read.json()["status"] == "resolved"


def _next(month: tuple[int, int]) -> tuple[int, int]:
    year, m = month
    return (year + 1, 1) if m == 12 else (year, m + 1)


async def test_a_tracking_number_taken_in_another_partition_is_drawn_again(
    session: Any, intake_client: Any, later_month: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = await make_handling_setup(session)
    await session.commit()
    first = await create_request(intake_client, setup["key"])  # before the roll: the legacy partition
    async with unit_of_work() as s:
        await partitions.roll(s, datetime(*later_month, 1, 9, 0, tzinfo=UTC))
    draws = iter([first["tracking_no"], "261204000000017"])
    monkeypatch.setattr(intake_service, "new_tracking_no", lambda received_at: next(draws))
    second = await create_request(intake_client, setup["key"])
    assert partitions.month_of_id(second["id"]) == later_month
    assert second["tracking_no"] == "261204000000017"  # the clash across partitions was seen, and drawn again
    rows = await session.execute(
        text("SELECT count(*) FROM requests WHERE tracking_no = :t"), {"t": first["tracking_no"]}
    )
    assert rows.scalar() == 1


async def test_the_partitioned_tables_keep_their_keys_and_refuse_what_they_refused(session: Any) -> None:
    kinds = await session.execute(
        text("SELECT relname, relkind::text FROM pg_class WHERE relname IN ('requests', 'request_events')")
    )
    assert dict(kinds.all()) == {"requests": "p", "request_events": "p"}
    with pytest.raises(Exception, match="foreign key"):
        await session.execute(
            text(
                "INSERT INTO request_events (request_id, seq, kind, actor, occurred_at, prev_hash, hash)"
                " VALUES (-1, 1, 'note', 'staff:1', now(), '', '')"
            )
        )
    await session.rollback()


def test_an_existing_database_is_upgraded_in_place_keeping_every_row_and_key() -> None:
    """A database at 0017 with requests, trails and keys to them is upgraded: every row is in the legacy
    partition, the keys hold, the tracking numbers are in their registry, next month has its partitions."""
    asyncio.run(_upgrade_an_existing_database())


async def _upgrade_an_existing_database() -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from services.lifecycle.events import append_event
    from tests.conftest import ROOT, _recreate_database
    from tests.factories import make_catalog, make_request, make_small_city

    url = make_url(os.environ["DATABASE_URL"])
    upgrade_url = url.set(database=f"{url.database}_upgrade").render_as_string(hide_password=False)
    await _recreate_database(upgrade_url)
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = upgrade_url
    await asyncio.to_thread(command.upgrade, config, "0017")
    engine = create_async_engine(upgrade_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            units = await make_small_city(session)
            await make_catalog(session)
            made = [await make_request(session, unit=units["330203001001001"]) for _ in range(3)]
            for request in made:
                await append_event(session, request.id, "received", "system:test", to_status="received", first=True)
            duplicate = await make_request(session, unit=units["330203001001001"], duplicate_of_id=made[0].id)
            await session.commit()
            first_id, duplicate_id = made[0].id, duplicate.id
            before = (await session.execute(text("SELECT id, tracking_no FROM requests ORDER BY id"))).all()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            after = (await session.execute(text("SELECT id, tracking_no FROM requests ORDER BY id"))).all()
            assert after == before
            homes = await session.execute(
                text(
                    "SELECT DISTINCT tableoid::regclass::text FROM requests UNION ALL"
                    " SELECT DISTINCT tableoid::regclass::text FROM request_events"
                )
            )
            assert sorted(homes.scalars()) == ["request_events_legacy", "requests_legacy"]
            registry = set((await session.execute(text("SELECT tracking_no FROM tracking_numbers"))).scalars())
            assert registry == {t for _, t in before}
            assert len(await events_of(session, first_id)) == 1
            with pytest.raises(Exception, match="foreign key"):  # the keys hold on the partitioned table
                await session.execute(text("DELETE FROM requests WHERE id = :id"), {"id": first_id})
            await session.rollback()
            tables = await partitions.partitions(session)
            assert tables["requests"][0][0] == "requests_legacy"
            assert len(tables["requests"]) == len(tables["request_events"]) == 2  # legacy and next month
            kept = await session.scalar(
                text("SELECT duplicate_of_id FROM requests WHERE id = :id"), {"id": duplicate_id}
            )
            assert kept == first_id
    finally:
        await engine.dispose()
        await _drop_database(upgrade_url)


async def _drop_database(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = await asyncpg.connect(parsed.set(drivername="postgresql", database="postgres").render_as_string(False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    finally:
        await conn.close()

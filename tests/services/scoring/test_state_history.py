"""The triggers of migration 0010 that keep the state scoring reads the past from: what they keep, when,
and what they leave out (a row recorded and changed in one transaction was never seen by anyone)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from services.models import Member, OrgHistoryEntry, Request, RequestState, Team
from services.org.history import rows_as_of
from tests.services.scoring.helpers import A, build_small_fixture


async def states_of(session, request_id):
    stmt = select(RequestState).where(RequestState.request_id == request_id).order_by(RequestState.id)
    return list(await session.scalars(stmt))


async def test_a_change_keeps_the_state_it_replaces_with_its_interval(session):
    _, _, facts = await build_small_fixture(session)
    r1 = facts["r1"]
    assert await states_of(session, r1.id) == []  # recorded and completed in the fixture's one transaction
    before = datetime.now(UTC)
    # An unscored column first (it moves the row's xmin), then a scored one, in one transaction.
    await session.execute(text("UPDATE requests SET description = '改了描述' WHERE id = :id"), {"id": r1.id})
    await session.execute(text("UPDATE requests SET category_code = 'utilities' WHERE id = :id"), {"id": r1.id})
    await session.execute(text("UPDATE requests SET status = 'accepted' WHERE id = :id"), {"id": r1.id})
    await session.commit()
    kept = await states_of(session, r1.id)
    assert len(kept) == 1, "two changes in one transaction leave one version: the state before it"
    assert (kept[0].category_code, kept[0].status, kept[0].valid_from) == ("env.noise", "closed", None)
    since = await session.scalar(select(Request.state_since).where(Request.id == r1.id))
    assert kept[0].valid_to == since and before - timedelta(seconds=5) <= since <= datetime.now(UTC)
    # A change of nothing scored keeps nothing.
    await session.execute(text("UPDATE requests SET description = '又改了' WHERE id = :id"), {"id": r1.id})
    await session.commit()
    assert len(await states_of(session, r1.id)) == 1


async def test_org_rows_come_back_as_they_were(session):
    s, _, _ = await build_small_fixture(session)
    team = s["teams"][A]
    member = await session.scalar(select(Member).where(Member.team_id == team.id).order_by(Member.id))
    assert await session.scalar(select(func.count()).select_from(OrgHistoryEntry)) == 0
    old_name = team.name
    as_of = datetime.now(UTC)
    await session.commit()
    row = await session.get(Team, team.id)
    row.name = "新名字"
    await session.commit()
    await session.delete(member)
    await session.commit()
    current = [{"id": t.id, "name": t.name, "created_at": t.created_at} for t in await session.scalars(select(Team))]
    teams = {t["id"]: t for t in await rows_as_of(session, "teams", current, as_of, datetime.now(UTC))}
    assert teams[team.id]["name"] == old_name != "新名字"
    members = await rows_as_of(session, "members", [], as_of, datetime.now(UTC))
    assert [m["id"] for m in members] == [member.id] and members[0]["team_id"] == team.id
    # Now, the rename and the removal hold.
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert {t["id"]: t for t in await rows_as_of(session, "teams", current, later, later)}[team.id]["name"] == "新名字"
    assert await rows_as_of(session, "members", [], later, later) == []

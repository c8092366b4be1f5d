"""Seals anchor the trails (issue 17): edits, deletions and truncations of events and admin audit rows, and
tampering with the seals themselves, are each reported; a trail changed only by the platform is intact."""

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, text, update

from services.audit import service as audit
from services.lifecycle.events import append_event
from services.lifecycle.seals import seal, verify_trails
from services.models import AdminAuditEntry, RequestEvent
from services.models.seals import TrailSeal, TrailSealLeaf
from tests.factories import bearer, make_handling_setup, make_request, make_staff

ROOT = Path(__file__).resolve().parents[3]
# Seals cover what has settled (SETTLE, 30 s): the tests seal as if a minute later.
LATER = timedelta(minutes=1)


async def trail(session, unit, events: int):
    """A request with a trail of `events` events."""
    request = await make_request(session, unit=unit)
    await append_event(session, request.id, "received", "system:test", to_status="received", first=True)
    for n in range(2, events + 1):
        await append_event(session, request.id, "note_added", "staff:1", note=f"第{n}条记录")
    return request


async def sealed_city(session):
    s = await make_handling_setup(session)
    grid = s["units"]["330203001001001"]
    requests = [await trail(session, grid, 4) for _ in range(3)]
    await audit.record(session, "system:test", "settings.updated", "settings", "1", after={"x": 1})
    await audit.record(session, "system:test", "settings.updated", "settings", "1", after={"x": 2})
    await session.commit()
    record = await seal(session, datetime.now(UTC) + LATER)
    await session.commit()
    assert record is not None and record.seal_no == 1
    return s, requests


async def as_a_database_owner(session) -> None:
    """What someone with full database access can do: this transaction runs without the tables' triggers
    (the append-only guards of request_events and admin_audit among them)."""
    await session.execute(text("SET LOCAL session_replication_role = replica"))


def problems(report):
    return sorted(((f.problem, f.request_id, f.seq, f.audit_id, f.seal_no) for f in report.findings), key=repr)


async def test_a_trail_changed_only_by_the_platform_is_intact_and_sealed_again_as_it_grows(session):
    _s, requests = await sealed_city(session)
    report = await verify_trails(session)
    assert report.intact, report.findings
    assert (report.seals, report.chains, report.events, report.audit_rows) == (1, 3, 12, 2)
    # Nothing new: no seal. New events: a second seal, linked to the first, holding only that head.
    assert await seal(session, datetime.now(UTC) + LATER) is None
    await append_event(session, requests[0].id, "note_added", "staff:1", note="又一条")
    await session.commit()
    second = await seal(session, datetime.now(UTC) + LATER)
    await session.commit()
    first = await session.scalar(select(TrailSeal).where(TrailSeal.seal_no == 1))
    assert second is not None and first is not None
    assert (second.seal_no, second.prev_hash, second.leaves) == (2, first.hash, 1)
    assert (await verify_trails(session)).intact


async def test_events_too_young_to_have_settled_wait_for_the_next_seal(session):
    _s, requests = await sealed_city(session)
    await append_event(session, requests[1].id, "note_added", "staff:1", note="刚写的")
    await session.commit()
    assert await seal(session, datetime.now(UTC)) is None  # within SETTLE of now
    assert (await seal(session, datetime.now(UTC) + LATER)) is not None


async def test_edits_deletions_and_truncations_are_each_reported(session):
    _s, (edited, gapped, cut) = await sealed_city(session)
    await as_a_database_owner(session)
    await session.execute(
        update(RequestEvent).where(RequestEvent.request_id == edited.id, RequestEvent.seq == 2).values(note="改过")
    )
    await session.execute(delete(RequestEvent).where(RequestEvent.request_id == gapped.id, RequestEvent.seq == 3))
    # Cut off the last two events: the chain that is left is whole, only the seal shows what is gone.
    await session.execute(delete(RequestEvent).where(RequestEvent.request_id == cut.id, RequestEvent.seq >= 3))
    first, second = await session.scalars(select(AdminAuditEntry).order_by(AdminAuditEntry.id))
    await as_a_database_owner(session)
    await session.execute(update(AdminAuditEntry).where(AdminAuditEntry.id == first.id).values(actor="staff:999"))
    await session.execute(delete(AdminAuditEntry).where(AdminAuditEntry.id == second.id))
    await session.commit()
    found = problems(await verify_trails(session))
    assert ("edited", edited.id, 2, None, None) in found
    assert ("deleted", gapped.id, 3, None, None) in found
    assert ("truncated", cut.id, 3, None, None) in found
    assert ("edited", None, None, first.id, None) in found
    assert ("deleted", None, None, second.id, None) in found
    assert not any(f[0] == "truncated" and f[1] != cut.id for f in found)


async def test_a_rewritten_chain_or_tampered_seals_are_reported(session):
    _s, (rewritten, _, _) = await sealed_city(session)
    # Someone with database access rewrites a whole chain consistently (recomputing every hash), as the
    # chain alone cannot show: the sealed head no longer matches.
    from services.lifecycle.events import _hashed_fields, event_hash

    events = list(
        await session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == rewritten.id).order_by(RequestEvent.seq)
        )
    )
    await as_a_database_owner(session)
    prev = "0" * 64
    for event in events:
        event.note = "重写" if event.seq > 1 else event.note
        event.prev_hash = prev
        event.hash = prev = event_hash(prev, _hashed_fields(event))
    await session.commit()
    found = problems(await verify_trails(session))
    assert found == [("edited", rewritten.id, 4, None, None)], found
    # A sealed head edited, then a seal removed from the middle of the sequence.
    await session.execute(
        text("UPDATE trail_seal_leaves SET hash = repeat('0', 64) WHERE id = (SELECT min(id) FROM trail_seal_leaves)")
    )
    await session.commit()
    assert ("seal_broken", None, None, None, 1) in problems(await verify_trails(session))
    for _ in range(2):
        await append_event(session, rewritten.id, "note_added", "staff:1", note="再一条")
        await session.commit()
        assert await seal(session, datetime.now(UTC) + LATER) is not None
        await session.commit()
    middle = await session.scalar(select(TrailSeal).where(TrailSeal.seal_no == 2))
    await session.execute(delete(TrailSealLeaf).where(TrailSealLeaf.seal_id == middle.id))
    await session.execute(delete(TrailSeal).where(TrailSeal.id == middle.id))
    await session.commit()
    found = problems(await verify_trails(session))
    assert ("seal_missing", None, None, None, 2) in found
    assert ("seal_broken", None, None, None, 3) in found  # its link to the seal before


async def test_a_seal_signed_with_another_key_is_reported(session, monkeypatch):
    await sealed_city(session)
    from pydantic import SecretStr

    from shared.settings import get_settings

    monkeypatch.setattr(get_settings(), "trail_seal_key", SecretStr("another key entirely"))
    assert ("seal_broken", None, None, None, 1) in problems(await verify_trails(session))


async def test_auditors_check_over_http_and_the_cli_checks_too(session, intake_client):
    s, (_, _, cut) = await sealed_city(session)
    auditor = await make_staff(session, "auditor_t", "auditor", s["units"]["3302"])
    await session.commit()
    answer = await intake_client.get("/v1/audit/verify", headers=bearer(auditor))
    assert answer.status_code == 200, answer.text
    assert answer.json()["intact"] is True and answer.json()["latest_seal"]["seal_no"] == 1
    assert (await intake_client.get("/v1/audit/verify", headers=bearer(s["dispatcher"]))).status_code == 403
    await as_a_database_owner(session)
    await session.execute(delete(RequestEvent).where(RequestEvent.request_id == cut.id, RequestEvent.seq == 4))
    await session.commit()
    body = (await intake_client.get("/v1/audit/verify", headers=bearer(auditor))).json()
    assert body["intact"] is False
    assert body["findings"] == [
        {
            "problem": "truncated",
            "detail": "sealed up to event 4, the trail ends at 3",
            "request_id": cut.id,
            "seq": 4,
            "audit_id": None,
            "seal_no": None,
        }
    ]
    cli = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "verify-trail"],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1, cli.stderr
    assert f"truncated: request {cut.id} event 4" in cli.stdout
    assert "NOT INTACT: 1 seals, 3 trails, 11 events" in cli.stdout

"""Routing: locate the request, match the responsibility matrix, pick the handler, commit one decision."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.handling.changes import record_change
from services.intake.models import OPEN_STATUSES, OutboxEntry, Request
from services.org.models import Category, Member, OrgUnit, Team
from services.routing.geodata import GeoData, district_path, geodata
from services.routing.locate import match_address
from services.routing.matrix import choose_rule
from services.routing.members import Candidate, choose_member
from services.routing.models import Assignment, LeaderLink

ROUTER = "system:routing"
LOADED_STATUSES = ("assigned", "accepted", "suspended")


@dataclass(slots=True)
class Decision:
    outcome: str  # assigned | needs_dispatch
    unit_id: int | None
    unit_path: str
    team_id: int | None = None
    department_id: int | None = None
    co_department_ids: list[int] = field(default_factory=list)
    handler_id: int | None = None
    rule_id: int | None = None
    reason: dict[str, Any] = field(default_factory=dict)


async def route_request(session: AsyncSession, request_id: int, version: int) -> Decision | None:
    """Route one version of a request, exactly once: the row lock and the version make a rerun a no-op."""
    request = await session.get(Request, request_id, with_for_update=True, populate_existing=True)
    await _mark_outbox_done(session, request_id, version)
    if request is None or request.version != version or request.status not in ("received", "duplicate"):
        return None
    if request.status == "duplicate":
        return await _route_duplicate(session, request)
    data = await geodata(session)
    decision = await _decide(session, request, data)
    await _apply(session, request, decision)
    await _follow_duplicates(session, request)
    return decision


async def _mark_outbox_done(session: AsyncSession, request_id: int, version: int) -> None:
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.request_id == request_id, OutboxEntry.topic == "route", OutboxEntry.processed_at.is_(None))
        .where(OutboxEntry.payload["version"].as_integer() <= version)
        .values(processed_at=datetime.now(UTC))
    )


def _locate(request: Request, data: GeoData) -> tuple[int | None, str, str]:
    """(unit id, unit path, method): coordinates, then the unit code given, then address text, else the city."""
    if request.lat is not None and request.lon is not None:
        hit = data.index.locate(request.lon, request.lat)
        if hit is not None:
            return hit[0], data.units[hit[0]].path, "coordinates"
    if request.org_unit_id is not None and request.org_unit_id in data.units:
        return request.org_unit_id, data.units[request.org_unit_id].path, "org_unit_code"
    if request.address:
        unit = match_address(request.address, data.named)
        if unit is not None:
            return unit.id, unit.path, "address"
    return None, data.root_path, "none"


async def _decide(session: AsyncSession, request: Request, data: GeoData) -> Decision:
    unit_id, path, method = _locate(request, data)
    reason: dict[str, Any] = {"located_by": method, "unit_path": path}
    dispatch = Decision("needs_dispatch", unit_id, district_path(path), reason=reason)
    if request.category_code == "unknown":
        reason["why"] = "unclassified: a dispatcher classifies it"
        return dispatch
    if method == "none":
        reason["why"] = "no location: the dispatch centre locates it"
        return dispatch
    rule = choose_rule(data.rules, request.category_code, path)
    if rule is None:
        reason["why"] = "no responsibility rule matches"
        return dispatch
    reason["rule_id"] = rule.id
    dispatch.rule_id = rule.id
    if rule.handler_kind in ("department", "joint"):
        return Decision(
            "assigned",
            unit_id,
            path,
            department_id=rule.lead_department_id,
            co_department_ids=list(rule.co_department_ids),
            rule_id=rule.id,
            reason={**reason, "queue": "department"},
        )
    # A grid team handles it: the request must be located in a grid that has a team.
    unit = data.units.get(unit_id) if unit_id is not None else None
    if unit is None or unit.level != "grid":
        reason["why"] = "a grid team rule, but the request is not located in a grid"
        return dispatch
    team = await session.scalar(select(Team).where(Team.grid_unit_id == unit.id).with_for_update())
    if team is None:
        reason["why"] = "the grid has no team"
        return dispatch
    candidates = await _candidates(session, team.id)
    excluded = await _returned_handlers(session, request.id)
    handler = choose_member(candidates, team.last_assigned_staff_id, excluded)
    reason["candidates"] = [
        {"staff_id": c.staff_id, "on_duty": c.on_duty, "open": c.open_assignments} for c in candidates
    ]
    reason["excluded"] = sorted(excluded)
    reason["queue"] = "handler" if handler is not None else "team"
    if handler is not None:
        team.last_assigned_staff_id = handler
    return Decision("assigned", unit_id, path, team_id=team.id, handler_id=handler, rule_id=rule.id, reason=reason)


async def _candidates(session: AsyncSession, team_id: int) -> list[Candidate]:
    members = (await session.execute(select(Member.staff_id, Member.on_duty).where(Member.team_id == team_id))).all()
    ids = [m.staff_id for m in members]
    loads: dict[int, int] = {}
    if ids:
        rows = await session.execute(
            select(Request.handler_id, func.count())
            .where(Request.handler_id.in_(ids), Request.status.in_(LOADED_STATUSES))
            .group_by(Request.handler_id)
        )
        loads = {handler: count for handler, count in rows.all() if handler is not None}
    return [Candidate(m.staff_id, m.on_duty, loads.get(m.staff_id, 0)) for m in members]


async def _returned_handlers(session: AsyncSession, request_id: int) -> frozenset[int]:
    rows = await session.scalars(
        select(Assignment.handler_id).where(
            Assignment.request_id == request_id, Assignment.end_reason == "returned", Assignment.handler_id.is_not(None)
        )
    )
    return frozenset(h for h in rows if h is not None)


async def _apply(session: AsyncSession, request: Request, decision: Decision) -> None:
    request.routing_no += 1
    await end_active_assignment(session, request.id, "rerouted")
    session.add(
        Assignment(
            request_id=request.id,
            routing_no=request.routing_no,
            outcome=decision.outcome,
            team_id=decision.team_id,
            department_id=decision.department_id,
            co_department_ids=decision.co_department_ids,
            handler_id=decision.handler_id,
            unit_id=decision.unit_id,
            rule_id=decision.rule_id,
            reason=decision.reason,
        )
    )
    request.lead_team_id = decision.team_id
    request.lead_department_id = decision.department_id
    request.co_department_ids = decision.co_department_ids
    request.handler_id = decision.handler_id
    request.unit_path = decision.unit_path
    if decision.unit_id is not None:
        request.org_unit_id = decision.unit_id
    await record_change(
        session,
        request,
        "routed" if decision.outcome == "assigned" else "needs_dispatch",
        ROUTER,
        to_status=decision.outcome,
        data={**decision.reason, "routing_no": request.routing_no, "handler_id": decision.handler_id},
    )
    if await _is_key_group(session, request.category_code):
        await _notify_leaders(session, request, decision)


async def end_active_assignment(session: AsyncSession, request_id: int, reason: str) -> None:
    await session.execute(
        update(Assignment)
        .where(Assignment.request_id == request_id, Assignment.active.is_(True))
        .values(active=False, ended_at=datetime.now(UTC), end_reason=func.coalesce(Assignment.end_reason, reason))
    )


async def _is_key_group(session: AsyncSession, category_code: str) -> bool:
    return bool(await session.scalar(select(Category.key_group).where(Category.code == category_code)))


async def _notify_leaders(session: AsyncSession, request: Request, decision: Decision) -> None:
    """Key-group matters (重点人群): the leaders linked to the unit or its ancestors, or to the department, are told."""
    path_codes = [p for p in request.unit_path.split("/") if p]
    ancestor_ids = list(await session.scalars(select(OrgUnit.id).where(OrgUnit.code.in_(path_codes))))
    conditions: list[ColumnElement[bool]] = [LeaderLink.org_unit_id.in_(ancestor_ids)] if ancestor_ids else []
    if decision.department_id is not None:
        conditions.append(LeaderLink.department_id == decision.department_id)
    if not conditions:
        return
    leaders = sorted(set(await session.scalars(select(LeaderLink.leader_id).where(or_(*conditions)))))
    await record_change(
        session,
        request,
        "leader_notified",
        ROUTER,
        note="重点诉求：已通知联系领导",
        data={"leader_ids": leaders},
    )


async def _route_duplicate(session: AsyncSession, request: Request) -> Decision | None:
    """A duplicate goes to whoever handles the original; if the original is not routed yet, it waits for it."""
    original = await session.get(Request, request.duplicate_of_id) if request.duplicate_of_id else None
    if original is None or original.routing_no == 0:
        return None
    if original.status not in OPEN_STATUSES:
        request.closed_at = datetime.now(UTC)
        request.close_reason = "with_original"
        await record_change(session, request, "closed", ROUTER, to_status="closed", data={"original": original.id})
        return None
    return await _copy_handling(session, request, original)


async def _copy_handling(session: AsyncSession, duplicate: Request, original: Request) -> Decision:
    decision = Decision(
        "assigned",
        original.org_unit_id,
        original.unit_path,
        team_id=original.lead_team_id,
        department_id=original.lead_department_id,
        co_department_ids=list(original.co_department_ids),
        handler_id=original.handler_id,
        reason={"duplicate_of": original.id},
    )
    duplicate.routing_no += 1
    await end_active_assignment(session, duplicate.id, "rerouted")
    session.add(
        Assignment(
            request_id=duplicate.id,
            routing_no=duplicate.routing_no,
            outcome="assigned",
            team_id=decision.team_id,
            department_id=decision.department_id,
            co_department_ids=decision.co_department_ids,
            handler_id=decision.handler_id,
            unit_id=decision.unit_id,
            reason=decision.reason,
        )
    )
    duplicate.lead_team_id = decision.team_id
    duplicate.lead_department_id = decision.department_id
    duplicate.co_department_ids = decision.co_department_ids
    duplicate.handler_id = decision.handler_id
    duplicate.unit_path = decision.unit_path
    await record_change(
        session, duplicate, "routed", ROUTER, data={**decision.reason, "routing_no": duplicate.routing_no}
    )
    return decision


async def _follow_duplicates(session: AsyncSession, original: Request) -> None:
    """Duplicates that arrived before the original was routed now follow it."""
    waiting = await session.scalars(
        select(Request).where(Request.duplicate_of_id == original.id, Request.status == "duplicate").with_for_update()
    )
    for duplicate in waiting:
        await _copy_handling(session, duplicate, original)

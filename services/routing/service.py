"""Routing: locate the request, match the responsibility matrix, pick the handler, commit one decision.

A route job routes its own request and, in the same transaction, up to `extra` other requests whose
routing is pending (taken with SKIP LOCKED: two workers never take the same one). One worker's rate is
bounded by round trips and per-job overhead, not by the rules, so the decisions of a batch are read and
written with a handful of set-based statements; each stays exactly-once through the request's row lock
and version, and the outbox entries are marked done in the same transaction.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.lifecycle.changes import ChangeBatch
from services.models import Assignment, CoTask, LeaderLink, Member, OutboxEntry, Request, RequestReturn, Team
from services.models.intake import OPEN_STATUSES
from services.routing.co_tasks import co_task_deadline
from services.routing.geodata import GeoData, district_path, geodata
from services.routing.locate import match_address
from services.routing.matrix import Rule, matching_rules, unit_depth
from services.routing.members import Candidate, choose_member
from services.sla import service as sla
from services.sla.policy import specificity

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


@dataclass(slots=True)
class Routed:
    """What one routing transaction did."""

    decision: Decision | None  # for the job's own request; None: nothing to do
    routed: int  # decisions committed, the job's own included
    done_job_ids: list[str]  # other route jobs whose work this transaction did: they have nothing left to do
    # (received_at, outcome) of each request this transaction routed for the first time: the worker's
    # intake-to-routing latency (docs/operations.md, "Metrics"); re-routes after a return are not in it.
    first_routings: list[tuple[datetime, str]] = field(default_factory=list)


async def route_batch(session: AsyncSession, request_id: int, version: int, *, extra: int) -> Routed:
    """Route one version of a request and up to `extra` other pending requests, each exactly once."""
    request = await session.get(Request, request_id, with_for_update=True, populate_existing=True)
    due = request is not None and request.version == version and request.status in ("received", "duplicate")
    if request is None or request.status == "duplicate":
        # A duplicate copies (or waits for) its original and takes no other lock, so it batches nothing:
        # a batch following duplicates may wait for this job, and this job then never waits for a batch.
        await _mark_outbox_done(session, [(request_id, version)])
        decision = await _route_duplicate(session, request) if request is not None and due else None
        first = [(request.received_at, decision.outcome)] if decision and request and request.routing_no == 1 else []
        return Routed(decision, int(decision is not None), [], first)
    others = await _claim_pending(session, request_id, extra) if extra > 0 else []
    marked = await _mark_outbox_done(session, [(request_id, version), *((r.id, r.version) for r in others)])
    pending = {(rid, v) for rid, _, v in marked}
    batch = ([request] if due else []) + [r for r in others if (r.id, r.version) in pending]
    decisions = await _route_all(session, batch)
    first = [(r.received_at, decisions[r.id].outcome) for r in batch if r.routing_no == 1]
    return Routed(
        decisions.get(request_id), len(decisions), [job for rid, job, _ in marked if rid != request_id], first
    )


async def _claim_pending(session: AsyncSession, own_id: int, limit: int) -> list[Request]:
    """Lock up to `limit` other received requests with pending route work, oldest entry first, skipping
    those another transaction holds (their own jobs, or other batches, have them)."""
    stmt = (
        select(Request)
        .join(OutboxEntry, OutboxEntry.request_id == Request.id)
        .where(
            OutboxEntry.processed_at.is_(None),
            OutboxEntry.topic == "route",
            Request.status == "received",
            Request.id != own_id,
        )
        .order_by(OutboxEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Request)
    )
    # A request with two pending entries comes back twice.
    return list({r.id: r for r in await session.scalars(stmt)}.values())


# Core text: one statement marks the route entries of many (request, version) pairs and says which it marked.
_MARK_DONE = text(
    """
    UPDATE outbox SET processed_at = now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:versions AS integer[])) AS due(request_id, version)
    WHERE outbox.request_id = due.request_id AND outbox.topic = 'route' AND outbox.processed_at IS NULL
      AND CAST(outbox.payload ->> 'version' AS integer) <= due.version
    RETURNING outbox.request_id, outbox.job_id, CAST(outbox.payload ->> 'version' AS integer)
    """
)


async def _mark_outbox_done(session: AsyncSession, due: list[tuple[int, int]]) -> list[tuple[int, str, int]]:
    """Close the route entries up to each version; (request id, job id, version) of those closed now."""
    rows = await session.execute(_MARK_DONE, {"ids": [d[0] for d in due], "versions": [d[1] for d in due]})
    return [(r[0], r[1], r[2]) for r in rows.all()]


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


@dataclass(frozen=True, slots=True)
class Returns:
    """What a request's returns (退单) tell its routing: the units (and handlers) that gave it back are
    excluded, and the latest return's proposal, if any, is where it goes next."""

    grids: frozenset[int] = frozenset()  # grids whose team returned it
    departments: frozenset[int] = frozenset()
    handlers: frozenset[int] = frozenset()
    proposed_team: tuple[int, int] | None = None  # (team id, its grid's id)
    proposed_department: int | None = None

    def reason(self) -> dict[str, Any]:
        return {"grids": sorted(self.grids), "departments": sorted(self.departments)}


NO_RETURNS = Returns()


def ranked_rules(rules: list[Rule], category: str, location_path: str) -> list[Rule]:
    """The matching rules, the one `matrix.choose_rule` picks first, then the next best, and so on."""
    return sorted(
        matching_rules(rules, category, location_path),
        key=lambda r: (specificity(r.category_prefix), unit_depth(r.unit_path)),
        reverse=True,
    )


def _proposed(
    request: Request, data: GeoData, returns: Returns, reason: dict[str, Any]
) -> tuple[Decision, int | None] | None:
    """The routing a return proposed (a team, with its grid, or a department), unless that unit gave it back too."""
    if returns.proposed_team is not None:
        team_id, grid_id = returns.proposed_team
        grid = data.units.get(grid_id)
        if grid_id in returns.grids or grid is None:
            reason["proposal_ignored"] = {"team_id": team_id}
            return None
        proposal = {**reason, "unit_path": grid.path, "proposal": {"team_id": team_id}}
        return Decision("needs_dispatch", grid_id, district_path(grid.path), reason=proposal), grid_id
    if returns.proposed_department is not None:
        department_id = returns.proposed_department
        if department_id in returns.departments:
            reason["proposal_ignored"] = {"department_id": department_id}
            return None
        unit_id, path = request.org_unit_id, reason["unit_path"]
        proposal = {**reason, "queue": "department", "proposal": {"department_id": department_id}}
        return Decision("assigned", unit_id, path, department_id=department_id, reason=proposal), None
    return None


def _plan(request: Request, data: GeoData, returns: Returns = NO_RETURNS) -> tuple[Decision, int | None]:
    """The decision the rules give on their own, and for a grid-team rule the grid whose team completes it.

    Units that returned the request are skipped: the best matching rule whose unit did not return it
    decides; with none left, a dispatcher does. A return's proposal (a team or a department) comes first.
    """
    unit_id, path, method = _locate(request, data)
    reason: dict[str, Any] = {"located_by": method, "unit_path": path}
    if returns is not NO_RETURNS:
        reason["excluded_units"] = returns.reason()
    dispatch = Decision("needs_dispatch", unit_id, district_path(path), reason=reason)
    proposed = _proposed(request, data, returns, reason) if returns is not NO_RETURNS else None
    if proposed is not None:
        return proposed
    if request.category_code == "unknown":
        reason["why"] = "unclassified: a dispatcher classifies it"
        return dispatch, None
    if method == "none":
        reason["why"] = "no location: the dispatch centre locates it"
        return dispatch, None
    skipped: list[int] = []
    for rule in ranked_rules(data.rules, request.category_code, path):
        if rule.handler_kind in ("department", "joint"):
            if rule.lead_department_id in returns.departments:
                skipped.append(rule.id)
                continue
            reason["rule_id"] = rule.id
            co = [d for d in rule.co_department_ids if d not in returns.departments]
            department = Decision(
                "assigned",
                unit_id,
                path,
                department_id=rule.lead_department_id,
                co_department_ids=co,
                rule_id=rule.id,
                reason={**reason, "queue": "department", **({"co_department_ids": co} if co else {})},
            )
            return department, None
        reason["rule_id"] = rule.id
        dispatch.rule_id = rule.id
        # A grid team handles it: the request must be located in a grid that has a team.
        unit = data.units.get(unit_id) if unit_id is not None else None
        if unit is None or unit.level != "grid":
            reason["why"] = "a grid team rule, but the request is not located in a grid"
            return dispatch, None
        if unit.id in returns.grids:
            skipped.append(rule.id)
            reason.pop("rule_id")
            dispatch.rule_id = None
            continue
        return dispatch, unit.id
    if skipped:
        reason["why"] = "every unit the responsibility rules name returned it"
        reason["skipped_rules"] = skipped
    else:
        reason["why"] = "no responsibility rule matches"
    return dispatch, None


async def _returns(session: AsyncSession, requests: list[Request]) -> dict[int, Returns]:
    """For requests returned before: the units and handlers that returned them (their ended assignments),
    and the proposal of the return that ended their current routing, if it made one."""
    routing_nos = {r.id: r.routing_no for r in requests if r.return_count > 0}
    if not routing_nos:
        return {}
    ids = sorted(routing_nos)
    gave_back = await session.execute(
        select(Assignment.request_id, Team.grid_unit_id, Assignment.department_id, Assignment.handler_id)
        .outerjoin(Team, Team.id == Assignment.team_id)
        .where(Assignment.request_id.in_(ids), Assignment.end_reason == "returned")
    )
    grids: dict[int, set[int]] = {}
    departments: dict[int, set[int]] = {}
    handlers: dict[int, set[int]] = {}
    for request_id, grid_id, department_id, handler_id in gave_back.all():
        if grid_id is not None:
            grids.setdefault(request_id, set()).add(grid_id)
        elif department_id is not None:
            departments.setdefault(request_id, set()).add(department_id)
        if handler_id is not None:
            handlers.setdefault(request_id, set()).add(handler_id)
    proposals = await session.execute(
        select(
            RequestReturn.request_id,
            RequestReturn.routing_no,
            RequestReturn.proposed_team_id,
            Team.grid_unit_id,
            RequestReturn.proposed_department_id,
        )
        .outerjoin(Team, Team.id == RequestReturn.proposed_team_id)
        .where(
            RequestReturn.request_id.in_(ids),
            RequestReturn.status == "applied",
            or_(RequestReturn.proposed_team_id.is_not(None), RequestReturn.proposed_department_id.is_not(None)),
        )
    )
    proposed: dict[int, tuple[tuple[int, int] | None, int | None]] = {}
    for request_id, routing_no, team_id, grid_id, department_id in proposals.all():
        if routing_no == routing_nos[request_id]:
            proposed[request_id] = (
                (team_id, grid_id) if team_id is not None and grid_id is not None else None,
                department_id,
            )
    return {
        rid: Returns(
            frozenset(grids.get(rid, ())),
            frozenset(departments.get(rid, ())),
            frozenset(handlers.get(rid, ())),
            *proposed.get(rid, (None, None)),
        )
        for rid in ids
    }


@dataclass(slots=True)
class _Teams:
    """The locked teams of a batch's grids, their members, and their members' open load (kept current)."""

    by_grid: dict[int, Team]
    members: dict[int, list[tuple[int, bool]]]
    loads: dict[int, int]
    returned: dict[int, Returns]  # request id -> its returns (handlers who returned it are excluded)
    moved: dict[int, Team] = field(default_factory=dict)  # teams whose round robin moved on

    async def write(self, session: AsyncSession) -> None:
        """The round robin's new positions in one executemany (the teams leave the session, as the requests do)."""
        if self.moved:
            await session.execute(
                _UPDATE_ROUND_ROBIN,
                [{"b_id": t.id, "last_assigned_staff_id": t.last_assigned_staff_id} for t in self.moved.values()],
            )
        for team in self.by_grid.values():
            session.expunge(team)

    def choose(self, request: Request, planned: Decision, grid_id: int) -> Decision:
        team = self.by_grid.get(grid_id)
        reason = planned.reason
        if team is None:
            reason["why"] = "the grid has no team"
            return planned
        candidates = [Candidate(s, on_duty, self.loads.get(s, 0)) for s, on_duty in self.members.get(team.id, [])]
        excluded = self.returned.get(request.id, NO_RETURNS).handlers
        handler = choose_member(candidates, team.last_assigned_staff_id, excluded)
        reason["candidates"] = [
            {"staff_id": c.staff_id, "on_duty": c.on_duty, "open": c.open_assignments} for c in candidates
        ]
        reason["excluded"] = sorted(excluded)
        reason["queue"] = "handler" if handler is not None else "team"
        if handler is not None:
            team.last_assigned_staff_id = handler
            self.loads[handler] = self.loads.get(handler, 0) + 1
            self.moved[team.id] = team
        path = reason["unit_path"]
        return Decision(
            "assigned",
            planned.unit_id,
            path,
            team_id=team.id,
            handler_id=handler,
            rule_id=planned.rule_id,
            reason=reason,
        )


async def _teams(session: AsyncSession, grid_ids: set[int], returned: dict[int, Returns]) -> _Teams:
    if not grid_ids:
        return _Teams({}, {}, {}, {})
    # Locked in id order in one statement, so two batches wanting the same teams never deadlock.
    teams = list(
        await session.scalars(
            select(Team).where(Team.grid_unit_id.in_(grid_ids)).order_by(Team.id).with_for_update(of=Team)
        )
    )
    members: dict[int, list[tuple[int, bool]]] = {}
    if teams:
        rows = await session.execute(
            select(Member.team_id, Member.staff_id, Member.on_duty)
            .where(Member.team_id.in_([t.id for t in teams]))
            .order_by(Member.id)
        )
        for member in rows.all():
            if member.team_id is not None:
                members.setdefault(member.team_id, []).append((member.staff_id, member.on_duty))
    staff = sorted({s for ms in members.values() for s, _ in ms})
    loads: dict[int, int] = {}
    if staff:
        # Read after the teams are locked: every earlier decision for these teams is committed and counted.
        counts = await session.execute(
            select(Request.handler_id, func.count())
            .where(Request.handler_id.in_(staff), Request.status.in_(LOADED_STATUSES))
            .group_by(Request.handler_id)
        )
        loads = {handler: count for handler, count in counts.all() if handler is not None}
    return _Teams({t.grid_unit_id: t for t in teams}, members, loads, returned)


# What routing changes on a request (`status` and `version` through ChangeBatch.record).
_ROUTED = (
    "status",
    "version",
    "routing_no",
    "lead_team_id",
    "lead_department_id",
    "co_department_ids",
    "handler_id",
    "unit_path",
    "org_unit_id",
    "closed_at",
    "close_reason",
)
_requests = cast(Table, Request.__table__)
_teams_table = cast(Table, Team.__table__)
_UPDATE_ROUTED = update(_requests).where(_requests.c.id == bindparam("b_id")).values({c: bindparam(c) for c in _ROUTED})
_UPDATE_ROUND_ROBIN = (
    update(_teams_table)
    .where(_teams_table.c.id == bindparam("b_id"))
    .values(last_assigned_staff_id=bindparam("last_assigned_staff_id"))
)


@dataclass(slots=True)
class _Writes:
    """A transaction's routing writes, sent together by `flush`."""

    ended: list[int] = field(default_factory=list)  # requests whose active assignment ends (rerouted)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    co_tasks: list[dict[str, Any]] = field(default_factory=list)  # a joint rule's co-departments' tasks
    changes: ChangeBatch = field(default_factory=ChangeBatch)

    def assign(self, request: Request, decision: Decision) -> None:
        if request.routing_no > 0:
            self.ended.append(request.id)
        request.routing_no += 1
        self.assignments.append(
            {
                "request_id": request.id,
                "routing_no": request.routing_no,
                "outcome": decision.outcome,
                "team_id": decision.team_id,
                "department_id": decision.department_id,
                "co_department_ids": decision.co_department_ids,
                "handler_id": decision.handler_id,
                "unit_id": decision.unit_id,
                "rule_id": decision.rule_id,
                "reason": decision.reason,
            }
        )
        request.lead_team_id = decision.team_id
        request.lead_department_id = decision.department_id
        request.co_department_ids = decision.co_department_ids
        request.handler_id = decision.handler_id
        request.unit_path = decision.unit_path

    async def flush(self, session: AsyncSession) -> None:
        requests = list({id(r): r for r in self.changes.requests}.values())
        if requests:
            # One executemany for the routed requests: the unit of work would send one UPDATE per request
            # (its `updated_at = now()` keeps it from batching them), so they leave the session instead.
            await session.execute(
                _UPDATE_ROUTED, [{"b_id": r.id, **{c: getattr(r, c) for c in _ROUTED}} for r in requests]
            )
            for request in requests:
                session.expunge(request)
        if self.ended:
            await _end_active(session, self.ended, "rerouted")
        if self.assignments:
            # render_nulls: every row has the same columns, so the rows go out in one executemany.
            await session.execute(insert(Assignment).execution_options(render_nulls=True), self.assignments)
        if self.co_tasks:
            # A unit with a live task keeps it (one live task per unit and request).
            await session.execute(pg_insert(CoTask).on_conflict_do_nothing(), self.co_tasks)
        await self.changes.write(session)


async def _route_all(session: AsyncSession, requests: list[Request]) -> dict[int, Decision]:
    """Decide and record the routing of locked `received` requests; their duplicates follow them."""
    if not requests:
        return {}
    data = await geodata(session)
    returns = await _returns(session, requests)
    plans = [_plan(r, data, returns.get(r.id, NO_RETURNS)) for r in requests]
    teams = await _teams(session, {grid for _, grid in plans if grid is not None}, returns)
    writes = _Writes()
    decisions: dict[int, Decision] = {}
    for request, (planned, grid) in zip(requests, plans, strict=True):
        decision = teams.choose(request, planned, grid) if grid is not None else planned
        decisions[request.id] = decision
        writes.assign(request, decision)
        if decision.unit_id is not None:
            request.org_unit_id = decision.unit_id
        writes.changes.record(
            request,
            "routed" if decision.outcome == "assigned" else "needs_dispatch",
            ROUTER,
            to_status=decision.outcome,
            data={**decision.reason, "routing_no": request.routing_no, "handler_id": decision.handler_id},
        )
    joint = [(r, decisions[r.id]) for r in requests if decisions[r.id].co_department_ids]
    if joint:
        await _open_co_tasks(session, joint, writes)
    key_group = [(r, decisions[r.id]) for r in requests if r.category_code in data.key_groups]
    if key_group:
        await _notify_leaders(session, data, key_group, writes.changes)
    await _follow_duplicates(session, {r.id: r for r in requests}, writes)
    await teams.write(session)
    await writes.flush(session)
    return decisions


async def _open_co_tasks(session: AsyncSession, joint: list[tuple[Request, Decision]], writes: _Writes) -> None:
    """A joint rule's co-departments each get a co-unit task (会办), due like a dispatcher's joint."""
    calendar = await sla.calendar(session)
    now = datetime.now(UTC)
    for request, decision in joint:
        respond_by = co_task_deadline(calendar, now, request.resolve_by)
        for department_id in decision.co_department_ids:
            writes.co_tasks.append(
                {
                    "request_id": request.id,
                    "team_id": None,
                    "department_id": department_id,
                    "status": "assigned",
                    "respond_by": respond_by,
                    "created_by": ROUTER,
                }
            )


async def end_active_assignment(session: AsyncSession, request_id: int, reason: str) -> None:
    await _end_active(session, [request_id], reason)


async def _end_active(session: AsyncSession, request_ids: list[int], reason: str) -> None:
    await session.execute(
        update(Assignment)
        .where(Assignment.request_id.in_(request_ids), Assignment.active.is_(True))
        .values(active=False, ended_at=datetime.now(UTC), end_reason=func.coalesce(Assignment.end_reason, reason))
    )


async def _notify_leaders(
    session: AsyncSession, data: GeoData, routed: list[tuple[Request, Decision]], changes: ChangeBatch
) -> None:
    """Key-group matters (重点人群): the leaders linked to the unit or its ancestors, or to the department, are told."""
    ancestors = {r.id: {data.unit_ids[c] for c in r.unit_path.split("/") if c in data.unit_ids} for r, _ in routed}
    unit_ids = sorted(set().union(*ancestors.values()))
    department_ids = sorted({d.department_id for _, d in routed if d.department_id is not None})
    conditions: list[ColumnElement[bool]] = []
    if unit_ids:
        conditions.append(LeaderLink.org_unit_id.in_(unit_ids))
    if department_ids:
        conditions.append(LeaderLink.department_id.in_(department_ids))
    if not conditions:
        return
    links = (
        await session.execute(
            select(LeaderLink.leader_id, LeaderLink.org_unit_id, LeaderLink.department_id).where(or_(*conditions))
        )
    ).all()
    for request, decision in routed:
        units = ancestors[request.id]
        if not units and decision.department_id is None:
            continue
        leaders = sorted(
            {
                leader
                for leader, unit_id, department_id in links
                if unit_id in units or (decision.department_id is not None and department_id == decision.department_id)
            }
        )
        changes.record(
            request, "leader_notified", ROUTER, note="重点诉求：已通知联系领导", data={"leader_ids": leaders}
        )


async def _route_duplicate(session: AsyncSession, request: Request) -> Decision | None:
    """A duplicate goes to whoever handles the original; if the original is not routed yet, it waits for it."""
    original = await session.get(Request, request.duplicate_of_id) if request.duplicate_of_id else None
    if original is None or original.routing_no == 0:
        return None
    writes = _Writes()
    decision: Decision | None = None
    if original.status not in OPEN_STATUSES:
        request.closed_at = datetime.now(UTC)
        request.close_reason = "with_original"
        writes.changes.record(request, "closed", ROUTER, to_status="closed", data={"original": original.id})
    else:
        decision = _copy_handling(writes, request, original)
    await writes.flush(session)
    return decision


def _copy_handling(writes: _Writes, duplicate: Request, original: Request) -> Decision:
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
    writes.assign(duplicate, decision)
    writes.changes.record(duplicate, "routed", ROUTER, data={**decision.reason, "routing_no": duplicate.routing_no})
    return decision


async def _follow_duplicates(session: AsyncSession, originals: dict[int, Request], writes: _Writes) -> None:
    """Duplicates that arrived before their original was routed now follow it."""
    waiting = await session.scalars(
        select(Request)
        .where(Request.duplicate_of_id.in_(sorted(originals)), Request.status == "duplicate")
        .order_by(Request.id)
        .with_for_update()
    )
    for duplicate in waiting:
        if duplicate.duplicate_of_id is not None:
            _copy_handling(writes, duplicate, originals[duplicate.duplicate_of_id])

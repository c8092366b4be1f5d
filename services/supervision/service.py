"""Supervision (督办): the supervisors' inbox, supervision orders and reminders, deadline extensions
(延期申请). Takes the session, never commits. Escalation itself lives below, in
services/lifecycle/escalation.py (the SLA clock and the handlers' `escalate` share it).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.config import service as config
from services.intake import repository as intake_repo
from services.lifecycle.changes import record_change
from services.lifecycle.notices import deadline_of, emit_request_event, phase_of
from services.models import (
    Category,
    DeadlineExtension,
    Escalation,
    OrgUnit,
    Request,
    SlaPolicy,
    StaffAccount,
    SupervisionOrder,
)
from services.models.intake import OPEN_STATUSES
from services.sla import service as sla
from services.sla.policy import BUILT_IN_GENERAL, warning_time
from services.supervision import auth
from services.supervision.errors import (
    ExtensionDecided,
    ExtensionLimitReached,
    ExtensionNotAllowed,
    ExtensionNotFound,
    ExtensionPending,
    NotSupervisable,
)
from services.supervision.schemas import (
    EscalationOut,
    ExtensionApprove,
    ExtensionCreate,
    ExtensionOut,
    ExtensionReject,
    InboxItem,
    LeadOut,
    OrderOut,
    PendingExtensionOut,
    RemindIn,
    SuperviseIn,
    SupervisionOut,
)
from shared.auth import Principal, actor_of
from shared.errors import InvalidInput, StaleVersion, field_error
from shared.pagination import Page, decode_cursor, next_cursor
from shared.schemas import local_iso

# Extensions are for requests being worked on.
EXTENDABLE = ("accepted", "suspended")


@dataclass(frozen=True, slots=True)
class Limits:
    """The numbers supervision's rules use (read only through `limits`)."""

    order_ahead: timedelta  # a 督办's due_by at most this far ahead
    extension_ahead: timedelta  # an extension at most this far past the current resolve_by
    extensions_per_request: int  # approved extensions per request


async def limits(session: AsyncSession) -> Limits:
    """The one place supervision reads its numbers (rule settings `handling.extension_max_days`,
    `extensions_per_request`, `supervision_order_max_days`)."""
    rules = (await config.current(session)).handling
    return Limits(
        order_ahead=timedelta(days=rules.supervision_order_max_days),
        extension_ahead=timedelta(days=rules.extension_max_days),
        extensions_per_request=rules.extensions_per_request,
    )


# ---- loading and checking ------------------------------------------------------------------------


async def _locked_request(session: AsyncSession, principal: Principal, request_id: int) -> Request:
    request = await session.get(Request, request_id, with_for_update=True, populate_existing=True)
    return auth.check_visible(principal, request, request_id)


def _check_version(request: Request, if_match: int | None) -> None:
    if if_match is not None and if_match != request.version:
        raise StaleVersion(f"The request changed (version {request.version}, you sent {if_match}); read it again")


async def _names(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(StaffAccount.id, StaffAccount.display_name).where(StaffAccount.id.in_(wanted)))
    return {r.id: r.display_name for r in rows}


# ---- the inbox -----------------------------------------------------------------------------------


def _order_out(order: SupervisionOrder, request: Request, names: dict[int, str], now: datetime) -> OrderOut:
    still_open = request.status in OPEN_STATUSES
    return OrderOut(
        id=order.id,
        request_id=request.id,
        tracking_no=request.tracking_no,
        kind=order.kind,
        note=order.note,
        due_by=order.due_by,
        issued_by_id=order.issued_by_id,
        issued_by_name=names.get(order.issued_by_id) if order.issued_by_id is not None else None,
        team_id=order.team_id,
        department_id=order.department_id,
        handler_id=order.handler_id,
        created_at=order.created_at,
        open=order.kind == "order" and still_open,
        overdue=order.kind == "order" and still_open and order.due_by is not None and order.due_by < now,
        request_version=request.version,
    )


def _escalation_out(row: Escalation | None, code: str | None, name: str | None) -> EscalationOut | None:
    if row is None:
        return None
    return EscalationOut(
        level=row.level,
        reason=row.reason,
        escalated_at=row.escalated_at,
        to_unit_code=code,
        to_unit_name=name,
        to_path=row.to_path,
    )


async def inbox(
    session: AsyncSession,
    principal: Principal,
    *,
    state: str,
    reason: str | None,
    cursor: str | None,
    limit: int,
) -> Page[InboxItem]:
    """Requests in the caller's subtree that are overdue, escalated, key-group or supervised, newest first."""
    auth.check_inbox(principal)
    supervised = exists().where(SupervisionOrder.request_id == Request.id)
    conditions = {
        "overdue": Request.sla_state == "overdue",
        "escalated": Escalation.request_id.is_not(None),
        "key_group": Category.key_group.is_(True),
        "supervised": supervised,
    }
    stmt = (
        select(Request, Escalation, Category.name, Category.key_group, OrgUnit.code, OrgUnit.name)
        .join(Category, Category.code == Request.category_code)
        .outerjoin(Escalation, Escalation.request_id == Request.id)
        .outerjoin(OrgUnit, OrgUnit.id == Escalation.to_unit_id)
        .where(
            Request.unit_path.startswith(principal.scope_path, autoescape=True),
            Request.status != "duplicate",
            conditions[reason] if reason is not None else or_(*conditions.values()),
        )
    )
    if state == "open":
        stmt = stmt.where(Request.status.in_(OPEN_STATUSES))
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Request.id < after)
    rows = (await session.execute(stmt.order_by(Request.id.desc()).limit(limit))).all()
    requests = [row[0] for row in rows]
    ids = [r.id for r in requests]
    orders: dict[int, list[SupervisionOrder]] = {i: [] for i in ids}
    pending: dict[int, DeadlineExtension] = {}
    if ids:
        for order in await session.scalars(
            select(SupervisionOrder).where(SupervisionOrder.request_id.in_(ids)).order_by(SupervisionOrder.id)
        ):
            orders[order.request_id].append(order)
        for waiting in await session.scalars(
            select(DeadlineExtension).where(
                DeadlineExtension.request_id.in_(ids), DeadlineExtension.status == "pending"
            )
        ):
            pending[waiting.request_id] = waiting
    names = await _names(session, {o.issued_by_id for group in orders.values() for o in group})
    labels = await intake_repo.labels_of(session, requests)
    now = datetime.now(UTC)
    items: list[InboxItem] = []
    for request, escalation_row, category_name, key_group, unit_code, unit_name in rows:
        reasons = []
        if request.sla_state == "overdue":
            reasons.append("overdue")
        if escalation_row is not None:
            reasons.append("escalated")
        if key_group:
            reasons.append("key_group")
        mine = orders[request.id]
        if mine:
            reasons.append("supervised")
        reminders = [o for o in mine if o.kind == "reminder"]
        extension = pending.get(request.id)
        department = labels.departments.get(request.lead_department_id) if request.lead_department_id else None
        items.append(
            InboxItem(
                request_id=request.id,
                tracking_no=request.tracking_no,
                external_id=request.external_id,
                category=request.category_code,
                category_name=category_name,
                key_group=bool(key_group),
                priority=request.priority,
                status=request.status,
                sla_state=request.sla_state,
                received_at=request.received_at,
                respond_by=request.respond_by,
                resolve_by=request.resolve_by,
                phase=phase_of(request),
                deadline=deadline_of(request),
                reasons=reasons,
                escalation=_escalation_out(escalation_row, unit_code, unit_name),
                handling=LeadOut(
                    lead_team_id=request.lead_team_id,
                    lead_team_name=labels.team_names.get(request.lead_team_id) if request.lead_team_id else None,
                    lead_department_id=request.lead_department_id,
                    lead_department_code=department[0] if department else None,
                    lead_department_name=department[1] if department else None,
                    handler_id=request.handler_id,
                    handler_name=labels.staff_names.get(request.handler_id) if request.handler_id else None,
                ),
                unit_path=request.unit_path,
                orders=[_order_out(o, request, names, now) for o in mine if o.kind == "order"],
                reminders=len(reminders),
                last_reminded_at=reminders[-1].created_at if reminders else None,
                pending_extension=PendingExtensionOut(
                    id=extension.id,
                    proposed_resolve_by=extension.proposed_resolve_by,
                    requested_at=extension.created_at,
                )
                if extension
                else None,
                version=request.version,
            )
        )
    return Page(items=items, next_cursor=next_cursor(ids, limit))


async def request_supervision(session: AsyncSession, principal: Principal, request_id: int) -> SupervisionOut:
    """A request's escalation and its orders and reminders, for staff who can see it (its handler too)."""
    request = auth.check_visible(principal, await session.get(Request, request_id), request_id)
    row = (
        await session.execute(
            select(Escalation, OrgUnit.code, OrgUnit.name)
            .outerjoin(OrgUnit, OrgUnit.id == Escalation.to_unit_id)
            .where(Escalation.request_id == request.id)
        )
    ).first()
    orders = list(
        await session.scalars(
            select(SupervisionOrder).where(SupervisionOrder.request_id == request.id).order_by(SupervisionOrder.id)
        )
    )
    names = await _names(session, {o.issued_by_id for o in orders})
    now = datetime.now(UTC)
    return SupervisionOut(
        request_id=request.id,
        escalation=_escalation_out(row[0], row[1], row[2]) if row else None,
        orders=[_order_out(o, request, names, now) for o in orders],
    )


# ---- 督办 and 催办 --------------------------------------------------------------------------------


async def _issue(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    *,
    kind: str,
    note: str,
    due_by: datetime | None,
    if_match: int | None,
) -> OrderOut:
    request = await _locked_request(session, principal, request_id)
    auth.check_may_supervise(principal, request)
    if request.status not in OPEN_STATUSES:
        raise NotSupervisable(f"Only an open request is supervised (it is {request.status})")
    _check_version(request, if_match)
    now = datetime.now(UTC)
    if due_by is not None:
        ahead = (await limits(session)).order_ahead
        if due_by <= now:
            raise InvalidInput("The deadline has passed", errors=[field_error("due_by", "must be in the future")])
        if due_by > now + ahead:
            raise InvalidInput(
                "The deadline is too far ahead",
                errors=[field_error("due_by", f"at most {ahead.days} days ahead")],
            )
    order = SupervisionOrder(
        request_id=request.id,
        kind=kind,
        note=note,
        due_by=due_by,
        issued_by_id=principal.id,
        team_id=request.lead_team_id,
        department_id=request.lead_department_id,
        handler_id=request.handler_id,
        created_at=now,
    )
    session.add(order)
    await session.flush()
    await record_change(
        session,
        request,
        "supervised" if kind == "order" else "reminded",
        actor_of(principal),
        note=note,
        data={
            "kind": kind,
            "order_id": order.id,
            "due_by": local_iso(due_by) if due_by else None,
            "team_id": request.lead_team_id,
            "department_id": request.lead_department_id,
            "handler_id": request.handler_id,
        },
    )
    await emit_request_event(
        session,
        "request.supervised",
        request,
        kind=kind,
        order_id=order.id,
        note=note,
        due_by=local_iso(due_by) if due_by else None,
    )
    return _order_out(order, request, await _names(session, {principal.id}), now)


async def supervise(
    session: AsyncSession, principal: Principal, request_id: int, data: SuperviseIn, if_match: int | None
) -> OrderOut:
    """督办: an order to the handling unit with a note and a deadline (it does not move `resolve_by`)."""
    return await _issue(
        session, principal, request_id, kind="order", note=data.note, due_by=data.due_by, if_match=if_match
    )


async def remind(
    session: AsyncSession, principal: Principal, request_id: int, data: RemindIn, if_match: int | None
) -> OrderOut:
    """催办: a reminder to the handling unit."""
    return await _issue(session, principal, request_id, kind="reminder", note=data.note, due_by=None, if_match=if_match)


# ---- deadline extensions (延期申请) -------------------------------------------------------------


async def _extension_out(session: AsyncSession, extension: DeadlineExtension, request: Request) -> ExtensionOut:
    names = await _names(session, {extension.requested_by_id, extension.decided_by_id})
    return _extension_view(extension, request, names)


def _extension_view(extension: DeadlineExtension, request: Request, names: dict[int, str]) -> ExtensionOut:
    return ExtensionOut(
        id=extension.id,
        request_id=request.id,
        tracking_no=request.tracking_no,
        status=extension.status,
        reason=extension.reason,
        proposed_resolve_by=extension.proposed_resolve_by,
        requested_by_id=extension.requested_by_id,
        requested_by_name=names.get(extension.requested_by_id) if extension.requested_by_id is not None else None,
        requested_at=extension.created_at,
        decided_by_id=extension.decided_by_id,
        decided_by_name=names.get(extension.decided_by_id) if extension.decided_by_id is not None else None,
        decided_at=extension.decided_at,
        decision_note=extension.decision_note,
        resolve_by_before=extension.old_resolve_by,
        resolve_by_after=extension.new_resolve_by,
        version=extension.version,
        request_version=request.version,
    )


def _check_deadline(request: Request, deadline: datetime, now: datetime, ahead: timedelta, field: str) -> None:
    """An extended deadline is after the current one, in the future, and at most `ahead` past the current one."""
    current = local_iso(request.resolve_by)
    if deadline <= request.resolve_by:
        raise InvalidInput(
            "The new deadline must be after the current one",
            errors=[field_error(field, f"must be after the current resolve_by ({current})")],
        )
    if deadline <= now:
        raise InvalidInput("The new deadline has passed", errors=[field_error(field, "must be in the future")])
    if deadline > request.resolve_by + ahead:
        raise InvalidInput(
            "The extension is too long",
            errors=[field_error(field, f"at most {ahead.days} days after the current resolve_by ({current})")],
        )


async def apply_extension(
    session: AsyncSession, principal: Principal, request_id: int, data: ExtensionCreate, if_match: int | None
) -> ExtensionOut:
    """The handler applies: a reason and a proposed resolution deadline; one pending application at a time."""
    request = await _locked_request(session, principal, request_id)
    auth.check_may_apply(principal, request)
    if request.status not in EXTENDABLE:
        raise ExtensionNotAllowed(f"Only an accepted or suspended request is extended (it is {request.status})")
    _check_version(request, if_match)
    rules = await limits(session)
    rows = await session.execute(
        select(DeadlineExtension.status, func.count())
        .where(DeadlineExtension.request_id == request.id)
        .group_by(DeadlineExtension.status)
    )
    counts: dict[str, int] = {status: int(n) for status, n in rows}
    if counts.get("pending"):
        raise ExtensionPending("An extension of this request is already waiting for a decision")
    if counts.get("approved", 0) >= rules.extensions_per_request:
        raise ExtensionLimitReached(
            f"This request has had {rules.extensions_per_request} extensions approved: no more are allowed"
        )
    now = datetime.now(UTC)
    _check_deadline(request, data.proposed_resolve_by, now, rules.extension_ahead, "proposed_resolve_by")
    extension = DeadlineExtension(
        request_id=request.id,
        requested_by_id=principal.id,
        reason=data.reason,
        proposed_resolve_by=data.proposed_resolve_by,
        old_resolve_by=request.resolve_by,
    )
    session.add(extension)
    await session.flush()
    await session.refresh(extension, ["created_at", "status", "version"])
    await record_change(
        session,
        request,
        "extension_requested",
        actor_of(principal),
        note=data.reason,
        data={
            "extension_id": extension.id,
            "proposed_resolve_by": local_iso(data.proposed_resolve_by),
            "resolve_by": local_iso(request.resolve_by),
        },
    )
    return await _extension_out(session, extension, request)


async def list_extensions(
    session: AsyncSession, principal: Principal, request_id: int, *, cursor: str | None, limit: int
) -> Page[ExtensionOut]:
    """A request's applications, newest first, for staff who can see it."""
    request = auth.check_visible(principal, await session.get(Request, request_id), request_id)
    stmt = select(DeadlineExtension).where(DeadlineExtension.request_id == request.id)
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(DeadlineExtension.id < after)
    rows = list(await session.scalars(stmt.order_by(DeadlineExtension.id.desc()).limit(limit)))
    names = await _names(session, {e.requested_by_id for e in rows} | {e.decided_by_id for e in rows})
    return Page(
        items=[_extension_view(e, request, names) for e in rows],
        next_cursor=next_cursor([e.id for e in rows], limit),
    )


async def _pending(
    session: AsyncSession, principal: Principal, request_id: int, extension_id: int, if_match: int | None
) -> tuple[Request, DeadlineExtension]:
    request = await _locked_request(session, principal, request_id)
    auth.check_may_decide(principal, request)
    extension = await session.get(DeadlineExtension, extension_id, with_for_update=True, populate_existing=True)
    if extension is None or extension.request_id != request.id:
        raise ExtensionNotFound(f"No extension {extension_id} of request {request_id}")
    if if_match is not None and if_match != extension.version:
        raise StaleVersion(f"The application changed (version {extension.version}, you sent {if_match}); read it again")
    if extension.status != "pending":
        raise ExtensionDecided(f"This application is already {extension.status}")
    return request, extension


async def _resolve_unit(session: AsyncSession, request: Request) -> str:
    if request.sla_policy_id is not None:
        unit = await session.scalar(select(SlaPolicy.resolve_unit).where(SlaPolicy.id == request.sla_policy_id))
        if unit is not None:
            return unit
    return BUILT_IN_GENERAL.resolve_unit


async def approve_extension(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    extension_id: int,
    data: ExtensionApprove,
    if_match: int | None,
) -> ExtensionOut:
    """Approve: `resolve_by` moves to the proposed (or the given) deadline, its warning time with it, and
    the SLA standing follows (a red or yellow card the new deadline no longer earns is lifted)."""
    request, extension = await _pending(session, principal, request_id, extension_id, if_match)
    if request.status not in EXTENDABLE:
        raise ExtensionNotAllowed(f"The request is no longer being worked on (it is {request.status})")
    now = datetime.now(UTC)
    new = data.resolve_by or extension.proposed_resolve_by
    field = "resolve_by"
    if data.resolve_by is None and new <= request.resolve_by:
        raise InvalidInput(
            "The proposed deadline is no longer after the current one",
            errors=[field_error(field, "the proposal no longer extends the deadline: give resolve_by")],
        )
    _check_deadline(request, new, now, (await limits(session)).extension_ahead, field)
    old, old_state = request.resolve_by, request.sla_state
    calendar = await sla.calendar(session)
    request.resolve_by = new
    request.resolve_warn_at = warning_time(calendar, request.received_at, new, await _resolve_unit(session, request))
    if request.resolve_warn_at > now:
        request.sla_state = "ok"
    elif old_state == "overdue":
        request.sla_state = "warning"  # already carded: no second warning event; the sweep reds it again later
    extension.status = "approved"
    extension.decided_by_id, extension.decided_at = principal.id, now
    extension.decision_note = data.note
    extension.new_resolve_by = new
    extension.version += 1
    await record_change(
        session,
        request,
        "extension_approved",
        actor_of(principal),
        note=data.note,
        data={
            "extension_id": extension.id,
            "resolve_by_before": local_iso(old),
            "resolve_by": local_iso(new),
            "sla_state_before": old_state,
            "sla_state": request.sla_state,
        },
    )
    await session.flush()
    return await _extension_out(session, extension, request)


async def reject_extension(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    extension_id: int,
    data: ExtensionReject,
    if_match: int | None,
) -> ExtensionOut:
    """Reject: the deadline stays; the handler may apply again."""
    request, extension = await _pending(session, principal, request_id, extension_id, if_match)
    extension.status = "rejected"
    extension.decided_by_id, extension.decided_at = principal.id, datetime.now(UTC)
    extension.decision_note = data.note
    extension.version += 1
    await record_change(
        session,
        request,
        "extension_rejected",
        actor_of(principal),
        note=data.note,
        data={"extension_id": extension.id, "proposed_resolve_by": local_iso(extension.proposed_resolve_by)},
    )
    await session.flush()
    return await _extension_out(session, extension, request)

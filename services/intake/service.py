"""Intake rules: creating requests from every channel, reading them in scope, tracking, visits, assessments."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.config import service as config
from services.intake import auth, idempotency
from services.intake import repository as repo
from services.intake.attributes import check_attributes
from services.intake.auth import may_reveal_pii
from services.intake.coords import to_wgs84
from services.intake.duplicates import RequestFacts, first_duplicate, is_duplicate, trigrams
from services.intake.errors import AlreadyAssessed, RequestNotFound
from services.intake.phones import last4, mask_name, mask_phone
from services.intake.schemas import (
    AssessmentCreate,
    AssessmentOut,
    CitizenOut,
    CoTaskOut,
    DepartmentRef,
    Due,
    DuplicateCandidate,
    DuplicateCheckOut,
    EventOut,
    EventsOut,
    FeedbackSeen,
    HandlingOut,
    LocationOut,
    RequestCounts,
    RequestCreate,
    RequestCreated,
    RequestOut,
    RequestRef,
    TrackNote,
    TrackOut,
    VisitCreate,
    VisitOut,
)
from services.intake.tracking import (
    hash_citizen_token,
    is_well_formed,
    new_citizen_token,
    new_tracking_no,
    normalise_tracking_no,
)
from services.lifecycle.changes import ROUTE_TASK, route_job_id
from services.lifecycle.events import append_event, first_event, verify_chain
from services.lifecycle.notices import DEADLINE, deadline_of
from services.models import Assessment, Category, Feedback, OrgUnit, Request, Visit
from services.org import repository as org_repo
from services.sla import service as sla
from services.sla.calendar import SHANGHAI
from services.sla.policy import deadlines, pick_policy
from shared.auth import Principal, actor_of
from shared.crypto import field_cipher
from shared.crypto import phone_hashes as crypto_phone_hashes
from shared.errors import Forbidden, InvalidInput, NotFound, field_error
from shared.pagination import (
    Page,
    decode_cursor,
    decode_keyset_cursor,
    encode_keyset_cursor,
    invalid_cursor,
    next_cursor,
)
from shared.queue import enqueue_after_commit

__all__ = ["may_reveal_pii"]  # who-may-what lives in `auth.py`; this one is read from here too


@dataclass(frozen=True, slots=True)
class CreateResult:
    """What `create_request` answers: the created request, and whether it is the replay of a first answer."""

    request: RequestCreated
    status_code: int = 201  # a replay answers the first call's status
    replayed: bool = False


async def create_request(
    session: AsyncSession,
    principal: Principal,
    data: RequestCreate,
    *,
    idempotency_key: str | None,
    raw_body: Any,
) -> CreateResult:
    """Create a request (request row, first event and outbox entry in this unit of work).

    With an Idempotency-Key, a repeat of the same body gets the first answer again, and the same
    key with another body is a 409.
    """
    auth.check_can_create(principal, data.channel)
    actor = actor_of(principal)
    if idempotency_key is not None:
        previous = await idempotency.claim(session, actor, idempotency_key, idempotency.body_hash(raw_body))
        if previous is not None:
            replay = RequestCreated.model_validate(previous.response)
            return CreateResult(replay, status_code=previous.status_code, replayed=True)
    # With an Idempotency-Key the key's row and the request commit together; without one the hot path's
    # insert is the only write and need not wait for (or pay for) a transaction.
    created = await _create(session, principal, data, join_transaction=idempotency_key is not None)
    if idempotency_key is not None:
        await idempotency.record(session, actor, idempotency_key, 201, created.model_dump(mode="json"), created.id)
    return CreateResult(created)


@dataclass(slots=True)
class _Place:
    lat: float | None
    lon: float | None
    unit: OrgUnit | None


async def _active_category(session: AsyncSession, code: str, channel: str) -> Category:
    category = await org_repo.cached_category(session, code)
    if category is None or not category.active:
        raise InvalidInput(f"Unknown category {code!r}", errors=[field_error("category", "unknown category")])
    if code == "unknown" and channel != "hotline":
        raise InvalidInput(
            "Only the hotline may file an unclassified request",
            errors=[field_error("category", "`unknown` is for hotline calls only")],
        )
    return category


async def _place(session: AsyncSession, principal: Principal, data: RequestCreate) -> _Place:
    location = data.location
    unit = None
    if location.org_unit_code is not None:
        unit = await org_repo.unit_by_code(session, location.org_unit_code)
        if unit is None or unit.level not in ("community", "grid") or not principal.covers(unit.path):
            raise InvalidInput(
                f"No community or grid {location.org_unit_code!r} in your scope",
                errors=[field_error(["location", "org_unit_code"], "unknown community or grid")],
            )
    lat = lon = None
    if location.lat is not None and location.lon is not None:
        lat, lon = to_wgs84(location.lat, location.lon, location.coord_system)
        extent = await org_repo.city_extent(session)
        if extent is not None and not (extent[0] <= lon <= extent[2] and extent[1] <= lat <= extent[3]):
            raise InvalidInput(
                "The coordinates lie outside the city",
                errors=[field_error(["location"], "outside the city's grids")],
            )
    return _Place(lat, lon, unit)


async def check_duplicates(session: AsyncSession, principal: Principal, data: RequestCreate) -> DuplicateCheckOut:
    """The duplicate rules applied to `data` as `POST /v1/requests` would apply them now, creating nothing:
    the open requests in the caller's scope it matches, so a clerk can warn the citizen before submitting."""
    auth.check_can_create(principal, data.channel)
    category = await _active_category(session, data.category, data.channel)
    place = await _place(session, principal, data)
    phone_hashes = crypto_phone_hashes(data.citizen.phone) if data.citizen.phone else []
    phone_hash = phone_hashes[0] if phone_hashes else None
    unit_id = place.unit.id if place.unit else None
    rules = (await config.current(session)).duplicates
    now = datetime.now(UTC)
    _, candidates = await repo.new_request_id_and_candidates(
        session,
        received_at=now,
        category=category.code,
        lat=place.lat,
        lon=place.lon,
        org_unit_id=unit_id,
        phone_hashes=phone_hashes,
        rules=rules,
        reserve_id=False,
    )
    new_facts = RequestFacts(now, category.code, place.lat, place.lon, unit_id, phone_hash, data.description)
    own = trigrams(data.description)
    matching = [c for c in candidates if is_duplicate(new_facts, c.facts, rules, new_trigrams=own)]
    match = first_duplicate(new_facts, [(c.id, c.facts) for c in matching], rules)
    rows = {r.id: r for r in await session.scalars(select(Request).where(Request.id.in_([c.id for c in matching])))}
    visible = [rows[c.id] for c in matching if c.id in rows and await can_see(session, principal, rows[c.id])]
    units = await org_repo.codes_of_units(session, {r.org_unit_id for r in visible if r.org_unit_id is not None})
    duplicate_of = None
    chosen = next((c for c in matching if c.id == match), None)
    if chosen is not None and chosen.id in {r.id for r in visible}:
        original = (
            rows[chosen.id] if chosen.duplicate_of_id is None else await session.get(Request, chosen.duplicate_of_id)
        )
        if original is not None and await can_see(session, principal, original):
            duplicate_of = RequestRef(id=original.id, tracking_no=original.tracking_no)
    return DuplicateCheckOut(
        duplicate_of=duplicate_of,
        candidates=[
            DuplicateCandidate(
                id=r.id,
                tracking_no=r.tracking_no,
                status=r.status,
                category=r.category_code,
                received_at=r.received_at,
                address=r.address,
                org_unit_code=units.get(r.org_unit_id) if r.org_unit_id is not None else None,
                description=r.description,
            )
            for r in sorted(visible, key=lambda r: (r.received_at, r.id))
        ],
    )


def _priority(category: Category, requested: str | None) -> str:
    """Key-group categories are `high` at intake (unless an emergency), so the first deadlines are final."""
    if requested == "emergency":
        return "emergency"
    if category.key_group:
        return "high"
    return requested or category.default_priority


async def _create(
    session: AsyncSession,
    principal: Principal,
    data: RequestCreate,
    *,
    join_transaction: bool,
    visit_id: int | None = None,
) -> RequestCreated:
    category = await _active_category(session, data.category, data.channel)
    errors = check_attributes(category.attributes, data.attributes)
    if errors:
        raise InvalidInput(f"Invalid attributes: {errors[0]['field']}: {errors[0]['msg']}", errors=errors)
    place = await _place(session, principal, data)
    received_at = datetime.now(UTC)
    priority = _priority(category, data.priority)
    terms = pick_policy(await sla.policies(session), category.code, priority)
    due = deadlines(await sla.calendar(session), terms, received_at)

    cipher = field_cipher()
    phone = data.citizen.phone
    phone_hashes = crypto_phone_hashes(phone) if phone else []  # the first is stored; any of them matches
    phone_hash = phone_hashes[0] if phone_hashes else None
    unit_id = place.unit.id if place.unit else None
    duplicate_rules = (await config.current(session)).duplicates  # cached: no query in the common case
    request_id, candidates = await repo.new_request_id_and_candidates(
        session,
        received_at=received_at,
        category=category.code,
        lat=place.lat,
        lon=place.lon,
        org_unit_id=unit_id,
        phone_hashes=phone_hashes,
        rules=duplicate_rules,
    )
    new_facts = RequestFacts(received_at, category.code, place.lat, place.lon, unit_id, phone_hash, data.description)
    match = first_duplicate(new_facts, [(c.id, c.facts) for c in candidates], duplicate_rules)
    duplicate_of = next((RequestRef(id=c.id, tracking_no=c.tracking_no) for c in candidates if c.id == match), None)
    original_id = next((c.duplicate_of_id for c in candidates if c.id == match), None)
    if original_id is not None:
        # A duplicate of a duplicate is linked to the original.
        original = await session.get(Request, original_id)
        if original is not None:
            duplicate_of = RequestRef(id=original.id, tracking_no=original.tracking_no)

    token = new_citizen_token()
    status = "duplicate" if duplicate_of is not None else "received"
    actor = actor_of(principal)
    row: dict[str, Any] = {
        "id": request_id,
        "channel": data.channel,
        "category_code": category.code,
        "description": data.description,
        "priority": priority,
        "status": status,
        "lat": place.lat,
        "lon": place.lon,
        "source_lat": data.location.lat,
        "source_lon": data.location.lon,
        "coord_system": data.location.coord_system if data.location.lat is not None else None,
        "address": data.location.address,
        "org_unit_id": unit_id,
        "unit_path": place.unit.path if place.unit else await org_repo.root_path(session),
        "citizen_name_enc": cipher.encrypt(data.citizen.name) if data.citizen.name else None,
        "citizen_phone_enc": cipher.encrypt(phone) if phone else None,
        "citizen_phone_hash": phone_hash,
        "anonymous": data.citizen.anonymous,
        "citizen_token_hash": hash_citizen_token(token),
        "media_urls": data.media_urls,
        "external_id": data.external_id,
        "attributes": data.attributes,
        "received_at": received_at,
        "respond_by": due.respond_by,
        "resolve_by": due.resolve_by,
        "respond_warn_at": due.respond_warn_at,
        "resolve_warn_at": due.resolve_warn_at,
        "sla_policy_id": terms.id,
        "duplicate_of_id": duplicate_of.id if duplicate_of else None,
        "visit_id": visit_id,
        "created_by": actor,
    }
    event = first_event(
        request_id,
        "received",
        actor,
        to_status=status,
        occurred_at=received_at,
        data={
            "channel": data.channel,
            "priority": priority,
            "sla_policy_id": terms.id,
            "duplicate_of": duplicate_of.id if duplicate_of else None,
        },
    )
    # A new request is version 1; the outbox entry and the job after commit hand it to routing.
    job_id = route_job_id(request_id, 1)
    outbox = {"topic": "route", "job_id": job_id, "payload": {"version": 1}}
    tracking_no = ""
    inserted = False
    while not inserted:
        # The unique tracking number decides: a clash (rare: 10^8 a day) just draws again.
        tracking_no = new_tracking_no(received_at.astimezone(SHANGHAI))
        inserted = await repo.insert_new_request(
            session, {**row, "tracking_no": tracking_no}, event, outbox, join_transaction=join_transaction
        )
    enqueue_after_commit(session, ROUTE_TASK, request_id, 1, job_id=job_id)
    return RequestCreated(
        id=request_id,
        tracking_no=tracking_no,
        status=status,
        category=category.code,
        priority=priority,
        received_at=received_at,
        due=Due(respond_by=due.respond_by, resolve_by=due.resolve_by),
        duplicate_of=duplicate_of,
        citizen_token=token,
        links=_links(request_id, tracking_no),
    )


def _links(request_id: int, tracking_no: str) -> dict[str, str]:
    return {
        "self": f"/v1/requests/{request_id}",
        "events": f"/v1/requests/{request_id}/events",
        "track": f"/v1/track/{tracking_no}",
    }


# ---- reading ---------------------------------------------------------------------------------


async def get_request(session: AsyncSession, principal: Principal, request_id: int) -> Request:
    request = await session.get(Request, request_id)
    if request is None or not await can_see(session, principal, request):
        raise RequestNotFound(f"No request {request_id}")
    return request


async def can_see(session: AsyncSession, principal: Principal, request: Request) -> bool:
    """`auth.can_see`, asking the database about co-unit membership only when that could decide it."""
    if auth.can_see(principal, request):
        return True
    if not auth.may_be_co_unit(principal):
        return False
    member = await repo.is_co_unit_member(session, principal.id, request.id)
    return auth.can_see(principal, request, co_unit_member=member)


async def request_out(
    session: AsyncSession,
    principal: Principal,
    request: Request,
    *,
    reveal_pii: bool = False,
    labels: repo.Labels | None = None,
    co_tasks: dict[int, list[repo.CoTaskRow]] | None = None,
    feedback: dict[int, list[Feedback]] | None = None,
) -> RequestOut:
    """The request as this caller may see it; revealing PII is allowed only to those with need, and audited.

    `labels` are the codes and names of a whole page, read once by the caller (`repo.labels_of`), and
    `co_tasks` its co-unit tasks (`repo.co_tasks_of`).
    """
    if reveal_pii and not may_reveal_pii(principal, request):
        raise Forbidden("Only the assigned handler and dispatchers may see the citizen's name and phone")
    if labels is None:
        labels = await repo.labels_of(session, [request])
    if co_tasks is None:
        co_tasks = await repo.co_tasks_of(session, [request.id])
    if feedback is None:
        feedback = await repo.feedback_of(session, [request.id]) if principal.is_staff else {}
    unit_code = labels.unit_codes.get(request.org_unit_id) if request.org_unit_id is not None else None
    citizen = _citizen_out(principal, request, reveal_pii)
    if reveal_pii:
        await append_event(session, request.id, "pii_viewed", actor_of(principal), data={"fields": ["name", "phone"]})
    return RequestOut(
        id=request.id,
        tracking_no=request.tracking_no,
        channel=request.channel,
        category=request.category_code,
        description=request.description,
        priority=request.priority,
        status=request.status,
        sla_state=request.sla_state,
        location=LocationOut(
            lat=request.lat,
            lon=request.lon,
            source_lat=request.source_lat,
            source_lon=request.source_lon,
            coord_system=request.coord_system,
            address=request.address,
            org_unit_code=unit_code,
        ),
        citizen=citizen,
        media_urls=request.media_urls,
        external_id=request.external_id,
        attributes=request.attributes,
        received_at=request.received_at,
        due=Due(respond_by=request.respond_by, resolve_by=request.resolve_by),
        duplicate_of=request.duplicate_of_id,
        handling=_handling_out(principal, request, labels),
        co_tasks=[_co_task_out(principal, row) for row in co_tasks.get(request.id, [])],
        feedback=[
            FeedbackSeen(
                resolution_no=f.resolution_no,
                resolved=f.resolved,
                satisfaction=f.satisfaction,
                comment=f.comment,
                recorded_at=f.created_at,
            )
            for f in feedback.get(request.id, [])
        ],
        version=request.version,
        links=_links(request.id, request.tracking_no),
    )


def _handling_out(principal: Principal, request: Request, labels: repo.Labels) -> HandlingOut:
    team_id, department_id, handler_id = request.lead_team_id, request.lead_department_id, request.handler_id
    lead = labels.departments.get(department_id) if department_id is not None else None
    handler_name = None
    if handler_id is not None and principal.is_staff:
        # Staff names are for staff; integrations see the handling unit, not the person.
        handler_name = labels.staff_names.get(handler_id)
    return HandlingOut(
        lead_team_id=team_id,
        lead_team_name=labels.team_names.get(team_id) if team_id is not None else None,
        lead_department_id=department_id,
        lead_department_code=lead[0] if lead else None,
        lead_department_name=lead[1] if lead else None,
        handler_id=handler_id,
        handler_name=handler_name,
        co_departments=[
            DepartmentRef(id=i, code=labels.departments[i][0], name=labels.departments[i][1])
            for i in request.co_department_ids or ()
            if i in labels.departments
        ],
    )


def _co_task_out(principal: Principal, row: repo.CoTaskRow) -> CoTaskOut:
    task = row.task
    team = task.team_id is not None
    return CoTaskOut(
        id=task.id,
        unit_kind="team" if team else "department",
        unit_id=task.team_id if task.team_id is not None else task.department_id or 0,
        unit_code=None if team else row.unit_code,
        unit_name=row.unit_name,
        status=task.status,
        respond_by=task.respond_by,
        accepted_at=task.accepted_at,
        replied_at=task.replied_at,
        # Integrations (channel systems) see what the citizen may see: a public reply only.
        reply=task.reply if principal.is_staff or task.reply_public else None,
        reply_public=task.reply_public,
        waive_reason=task.waive_reason if principal.is_staff else None,
        version=task.version,
    )


def _citizen_out(principal: Principal, request: Request, reveal: bool) -> CitizenOut:
    hidden = request.anonymous and not auth.sees_anonymous_citizen(principal)
    if hidden:
        return CitizenOut(name=None, phone=None, anonymous=True, masked=True)
    cipher = field_cipher()
    name = cipher.decrypt(request.citizen_name_enc) if request.citizen_name_enc else None
    phone = cipher.decrypt(request.citizen_phone_enc) if request.citizen_phone_enc else None
    if reveal:
        return CitizenOut(name=name, phone=phone, anonymous=request.anonymous, masked=False)
    return CitizenOut(
        name=mask_name(name) if name else None,
        phone=mask_phone(phone) if phone else None,
        anonymous=request.anonymous,
        masked=True,
    )


@dataclass(frozen=True, slots=True)
class RequestFilters:
    status: str | None = None
    channel: str | None = None
    category: str | None = None
    org_unit_code: str | None = None
    lead_team_id: int | None = None
    lead_department_id: int | None = None
    handler_id: int | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    sla_state: str | None = None
    # `co_units`: joint requests where the caller's unit has an open co-task; `my_units`: the unclaimed
    # requests led by the caller's team or department (the queue its members claim from).
    queue: str | None = None
    assigned_to: str | None = None  # `me`: the requests the caller handles


@dataclass(frozen=True, slots=True)
class Visibility:
    """Whom a list shows a caller: the requests under `scope_path`, those `handler_id` handles, those where a
    unit `co_unit_staff_id` belongs to is a co-unit; of those, only `created_by`'s when it is set."""

    scope_path: str
    created_by: str | None
    handler_id: int | None
    co_unit_staff_id: int | None


async def visibility(session: AsyncSession, principal: Principal, filters: RequestFilters) -> Visibility:
    """The caller's reach with these filters (an `org_unit_code` filter narrows it to that unit's subtree)."""
    auth.check_can_list(principal)
    if principal.kind == "integration":
        scope_path, created_by, own_handler = "/", actor_of(principal), None
        if filters.assigned_to is not None or filters.queue is not None:
            name = "queue" if filters.queue is not None else "assigned_to"
            raise InvalidInput("Work queues are for staff", errors=[field_error(["query", name], "staff only")])
    else:
        scope_path, created_by, own_handler = principal.scope_path, None, principal.id
    if filters.org_unit_code is not None:
        unit = await org_repo.unit_by_code(session, filters.org_unit_code)
        if unit is None or not principal.covers(unit.path):
            raise NotFound(f"No org unit {filters.org_unit_code!r}")
        scope_path, own_handler = unit.path, None
    co_unit_staff = principal.id if auth.may_be_co_unit(principal) and filters.org_unit_code is None else None
    return Visibility(scope_path, created_by, own_handler, co_unit_staff)


async def _visible(session: AsyncSession, principal: Principal, filters: RequestFilters) -> Select[Request]:
    """The caller's requests matching `filters`, unordered."""
    return visible_within(await visibility(session, principal, filters), principal, filters)


def visible_within(reach: Visibility, principal: Principal, filters: RequestFilters) -> Select[Request]:
    """The requests within `reach` (`visibility` of this caller and filters) matching `filters`, unordered."""
    stmt = repo.visible_query(
        scope_path=reach.scope_path,
        created_by=reach.created_by,
        handler_id_visible=reach.handler_id,
        co_unit_staff_id=reach.co_unit_staff_id,
        co_units_only=filters.queue == "co_units",
    )
    if filters.queue == "my_units":
        stmt = stmt.where(repo.unit_queue(principal.id))
    if filters.assigned_to == "me":
        stmt = stmt.where(Request.handler_id == principal.id)
    if filters.status:
        stmt = stmt.where(Request.status == filters.status)
    if filters.channel:
        stmt = stmt.where(Request.channel == filters.channel)
    if filters.category:
        stmt = stmt.where(
            (Request.category_code == filters.category)
            | Request.category_code.startswith(filters.category + ".", autoescape=True)
        )
    if filters.lead_team_id is not None:
        stmt = stmt.where(Request.lead_team_id == filters.lead_team_id)
    if filters.lead_department_id is not None:
        stmt = stmt.where(Request.lead_department_id == filters.lead_department_id)
    if filters.handler_id is not None:
        stmt = stmt.where(Request.handler_id == filters.handler_id)
    if filters.received_from is not None:
        stmt = stmt.where(Request.received_at >= filters.received_from)
    if filters.received_to is not None:
        stmt = stmt.where(Request.received_at < filters.received_to)
    if filters.sla_state:
        stmt = stmt.where(Request.sla_state == filters.sla_state)
    return stmt


def _page_order(stmt: Select[Request], sort: str, cursor: str | None, limit: int) -> Select[Request]:
    """`-received`: newest first (by id); `received`: oldest first; `due`: the nearest deadline first."""
    if sort == "due":
        after = decode_keyset_cursor(cursor)
        if after is not None:
            try:
                due = datetime.fromisoformat(after[0])
            except ValueError as exc:
                raise invalid_cursor() from exc
            stmt = stmt.where(tuple_(DEADLINE, Request.id) > tuple_(literal(due), literal(after[1])))
        return stmt.order_by(DEADLINE, Request.id).limit(limit)
    after_id = decode_cursor(cursor)
    if sort == "received":
        if after_id is not None:
            stmt = stmt.where(Request.id > after_id)
        return stmt.order_by(Request.id).limit(limit)
    if after_id is not None:
        stmt = stmt.where(Request.id < after_id)
    return stmt.order_by(Request.id.desc()).limit(limit)


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    filters: RequestFilters,
    cursor: str | None,
    limit: int,
    sort: str = "-received",
) -> Page[RequestOut]:
    stmt = _page_order(await _visible(session, principal, filters), sort, cursor, limit)
    requests = list(await session.scalars(stmt))
    labels = await repo.labels_of(session, requests)
    ids = [r.id for r in requests]
    co_tasks = await repo.co_tasks_of(session, ids)
    feedback = await repo.feedback_of(session, ids) if principal.is_staff else {}
    items = [
        await request_out(session, principal, r, labels=labels, co_tasks=co_tasks, feedback=feedback) for r in requests
    ]
    if sort == "due":
        last = requests[-1] if requests and len(requests) == limit else None
        more = encode_keyset_cursor(deadline_of(last).isoformat(), last.id) if last is not None else None
        return Page(items=items, next_cursor=more)
    return Page(items=items, next_cursor=next_cursor(ids, limit))


async def count_requests(session: AsyncSession, principal: Principal, filters: RequestFilters) -> RequestCounts:
    """How many of the caller's requests match `filters`, in all, per status and per SLA standing."""
    matching = (await _visible(session, principal, filters)).subquery()
    rows = await session.execute(
        select(matching.c.status, matching.c.sla_state, func.count()).group_by(matching.c.status, matching.c.sla_state)
    )
    by_status: dict[str, int] = {}
    by_sla_state: dict[str, int] = {}
    for status, sla_state, n in rows:
        by_status[status] = by_status.get(status, 0) + n
        by_sla_state[sla_state] = by_sla_state.get(sla_state, 0) + n
    return RequestCounts(total=sum(by_status.values()), by_status=by_status, by_sla_state=by_sla_state)


async def request_events(session: AsyncSession, principal: Principal, request_id: int) -> EventsOut:
    request = await get_request(session, principal, request_id)
    events = await repo.events_of(session, request.id)
    return EventsOut(
        items=[
            EventOut(
                seq=e.seq,
                kind=e.kind,
                actor=e.actor,
                from_status=e.from_status,
                to_status=e.to_status,
                note=e.note,
                public=e.public,
                data=e.data,
                occurred_at=e.occurred_at,
                prev_hash=e.prev_hash,
                hash=e.hash,
            )
            for e in events
        ],
        chain_intact=verify_chain(events) is None,
    )


# ---- citizen tracking ------------------------------------------------------------------------


async def find_for_citizen(
    session: AsyncSession, tracking_no: str, *, phone_last4: str | None, citizen_token: str | None
) -> Request:
    """The request, if the citizen proves it is theirs; one and the same 404 for every failure."""
    not_found = RequestNotFound("No request with that tracking number and phone digits or token")
    number = normalise_tracking_no(tracking_no)
    if not is_well_formed(number) or (phone_last4 is None and citizen_token is None):
        raise not_found
    request = await repo.by_tracking_no(session, number)
    if request is None:
        raise not_found
    if citizen_token is not None and hash_citizen_token(citizen_token) == request.citizen_token_hash:
        return request
    phone_enc = request.citizen_phone_enc
    if phone_last4 is not None and phone_enc is not None and last4(field_cipher().decrypt(phone_enc)) == phone_last4:
        return request
    raise not_found


async def track(
    session: AsyncSession, tracking_no: str, *, phone_last4: str | None, citizen_token: str | None
) -> TrackOut:
    request = await find_for_citizen(session, tracking_no, phone_last4=phone_last4, citizen_token=citizen_token)
    category = await org_repo.category_by_code(session, request.category_code)
    events = await repo.events_of(session, request.id)
    return TrackOut(
        tracking_no=request.tracking_no,
        status=request.status,
        category=request.category_code,
        category_name=category.name if category else request.category_code,
        received_at=request.received_at,
        due=Due(respond_by=request.respond_by, resolve_by=request.resolve_by),
        # A co-unit's public reply carries the co-unit's name (a unit, never a person).
        public_notes=[
            TrackNote(occurred_at=e.occurred_at, note=e.note, unit_name=_co_unit_name(e.data))
            for e in events
            if e.public and e.note
        ],
    )


def _co_unit_name(data: dict[str, Any]) -> str | None:
    name = data.get("co_unit_name")
    return name if isinstance(name, str) else None


# ---- visits and assessments ------------------------------------------------------------------


async def create_visit(session: AsyncSession, principal: Principal, data: VisitCreate) -> VisitOut:
    """Log a household visit or a leader's contact, with the requests raised during it, in one unit of work."""
    auth.check_can_log_visits(principal)
    unit = await org_repo.unit_by_code(session, data.org_unit_code)
    if unit is None or not principal.covers(unit.path):
        raise InvalidInput(
            f"No org unit {data.org_unit_code!r} in your scope", errors=[field_error("org_unit_code", "unknown unit")]
        )
    if data.visited_at > datetime.now(UTC):
        raise InvalidInput("A visit cannot be in the future", errors=[field_error("visited_at", "in the future")])
    visit = Visit(
        kind=data.kind,
        org_unit_id=unit.id,
        staff_id=principal.id,
        visited_at=data.visited_at,
        households=data.households,
        notes=data.notes,
    )
    session.add(visit)
    await session.flush()
    created = []
    for index, item in enumerate(data.requests):
        if item.channel != "visit":
            raise InvalidInput(
                "Requests raised during a visit use the `visit` channel",
                errors=[field_error(["requests", index, "channel"], "must be `visit`")],
            )
        try:
            # The visit and all its requests commit together, or none of them.
            created.append(await _create(session, principal, item, join_transaction=True, visit_id=visit.id))
        except InvalidInput as exc:
            # Say which of the visit's requests was wrong.
            exc.errors = [{**e, "loc": ["requests", index, *e["loc"]]} for e in exc.errors]
            for e in exc.errors:
                e["field"] = ".".join(str(p) for p in e["loc"])
            raise
    return VisitOut(
        id=visit.id,
        kind=visit.kind,
        org_unit_code=unit.code,
        staff_id=visit.staff_id,
        visited_at=visit.visited_at,
        households=visit.households,
        notes=visit.notes,
        requests=created,
    )


async def create_assessment(session: AsyncSession, principal: Principal, data: AssessmentCreate) -> AssessmentOut:
    """Record a resident organisation's or a public-opinion survey's 0–100 score for a unit and period."""
    auth.check_can_assess(principal)
    unit = await org_repo.unit_by_code(session, data.org_unit_code)
    if unit is None or not principal.covers(unit.path):
        raise InvalidInput(
            f"No org unit {data.org_unit_code!r} in your scope", errors=[field_error("org_unit_code", "unknown unit")]
        )
    exists = await session.scalar(
        select(Assessment.id).where(
            Assessment.org_unit_id == unit.id,
            Assessment.period == data.period,
            Assessment.source == data.source,
            Assessment.assessor == data.assessor,
        )
    )
    if exists is not None:
        raise AlreadyAssessed(
            "This assessor already assessed this unit for this period",
            errors=[field_error("assessor", "already assessed")],
        )
    assessment = Assessment(
        org_unit_id=unit.id,
        period=data.period,
        source=data.source,
        assessor=data.assessor,
        score=data.score,
        respondents=data.respondents,
        notes=data.notes,
        created_by_id=principal.id,
    )
    session.add(assessment)
    await session.flush()
    return AssessmentOut(
        id=assessment.id,
        org_unit_code=unit.code,
        period=assessment.period,
        source=assessment.source,
        assessor=assessment.assessor,
        score=assessment.score,
        respondents=assessment.respondents,
        notes=assessment.notes,
        created_at=assessment.created_at,
    )

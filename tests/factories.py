"""Factory functions: each test builds the data it needs, visibly.

Each `make_*` inserts real rows through the session (flushed, not committed): keyword arguments with
sensible defaults, and every column can be overridden by name (`make_request(session, status="closed")`).

* the org tree: `make_unit`, `make_small_city`, `make_department`, `make_team`, `make_member`, `make_leader_link`
* people and keys: `make_staff`, `make_city_admin`, `bearer`, `make_api_key`, `make_subscription`
* the catalog: `make_category`, `make_sla_policy`, `make_catalog`
* requests written straight through the ORM: `make_request`, `make_assignment`, `make_feedback`
* bodies for the API: `request_body`, `at_grid`; the whole handling setup: `make_handling_setup`
"""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.service import issue_token
from services.models import (
    ApiKey,
    Assignment,
    Category,
    Department,
    Feedback,
    LeaderLink,
    Member,
    OrgUnit,
    Request,
    SlaPolicy,
    StaffAccount,
    Team,
    WebhookSubscription,
)
from shared.auth import generate_api_key, hash_password

PASSWORD = "correct-horse-battery"
_PASSWORD_HASH: list[str] = []  # argon2 is slow on purpose: hash the test password once
_tracking = itertools.count(100_000_000_000_001)  # 15 digits, unique within a run


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


async def make_unit(
    session: AsyncSession,
    code: str,
    level: str,
    parent: OrgUnit | None = None,
    *,
    name: str | None = None,
    geometry: dict[str, Any] | None = None,
) -> OrgUnit:
    if level == "grid" and geometry is None:
        geometry = square(121.5, 29.8)
    unit = OrgUnit(
        code=code,
        name=name or f"单位{code}",
        level=level,
        parent_id=parent.id if parent else None,
        path=f"{parent.path if parent else '/'}{code}/",
        geometry=geometry,
    )
    session.add(unit)
    await session.flush()
    return unit


async def make_small_city(session: AsyncSession) -> dict[str, OrgUnit]:
    """City 3302 with two districts, three streets, and a community with one grid under each street.

    The grids are 0.01° squares side by side at 29.80 N: 121.50, 121.52 and 121.54 E.
    """
    units: dict[str, OrgUnit] = {}
    units["3302"] = await make_unit(session, "3302", "city", name="宁波市")
    offset = 0
    for district, streets in (("330203", ("330203001", "330203002")), ("330205", ("330205001",))):
        units[district] = await make_unit(session, district, "district", units["3302"])
        for street in streets:
            units[street] = await make_unit(session, street, "street", units[district])
            community = street + "001"
            units[community] = await make_unit(session, community, "community", units[street])
            grid = community + "001"
            units[grid] = await make_unit(
                session, grid, "grid", units[community], geometry=square(121.5 + 0.02 * offset, 29.8)
            )
            units[grid].min_lon, units[grid].min_lat = 121.5 + 0.02 * offset, 29.8
            units[grid].max_lon, units[grid].max_lat = 121.51 + 0.02 * offset, 29.81
            offset += 1
    await session.flush()
    return units


async def make_staff(
    session: AsyncSession, username: str, role: str, scope: OrgUnit, *, active: bool = True, **fields: Any
) -> StaffAccount:
    """A staff account scoped to `scope`, whose password is `PASSWORD`."""
    values: dict[str, Any] = {"display_name": username, "password_hash": _password_hash()}
    staff = StaffAccount(username=username, role=role, scope_unit_id=scope.id, active=active, **(values | fields))
    session.add(staff)
    await session.flush()
    return staff


def _password_hash() -> str:
    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(hash_password(PASSWORD))
    return _PASSWORD_HASH[0]


def bearer(staff: StaffAccount) -> dict[str, str]:
    token, _ = issue_token(staff)
    return {"Authorization": f"Bearer {token}"}


async def make_city_admin(
    session: AsyncSession, username: str = "city_admin"
) -> tuple[dict[str, OrgUnit], dict[str, str]]:
    """The small city and an admin scoped to all of it, committed: (units, the admin's bearer headers)."""
    units = await make_small_city(session)
    admin = await make_staff(session, username, "admin", units["3302"])
    await session.commit()
    return units, bearer(admin)


async def make_api_key(
    session: AsyncSession,
    *,
    rights: tuple[str, ...] = ("requests:create", "requests:read"),
    channels: tuple[str, ...] = ("hotline", "app"),
    **fields: Any,
) -> tuple[ApiKey, str]:
    """An integration's API key row; returns (the row, the key in clear)."""
    new = generate_api_key()
    values: dict[str, Any] = {"name": "test integration", "channels": list(channels), "rights": list(rights)}
    record = ApiKey(prefix=new.prefix, secret_hash=new.secret_hash, **(values | fields))
    session.add(record)
    await session.flush()
    return record, new.key


async def make_subscription(
    session: AsyncSession,
    url: str,
    *,
    key: ApiKey | None = None,
    event_types: tuple[str, ...] = ("alert.raised",),
    **fields: Any,
) -> WebhookSubscription:
    """A webhook subscription of `key` (by default a new integration allowed to manage webhooks)."""
    if key is None:
        key, _ = await make_api_key(session, rights=("webhooks:manage",))
    values: dict[str, Any] = {"secret": "s" * 32, "event_types": list(event_types)}
    subscription = WebhookSubscription(api_key_id=key.id, url=url, **(values | fields))
    session.add(subscription)
    await session.flush()
    return subscription


async def make_department(session: AsyncSession, code: str, scope: OrgUnit, **fields: Any) -> Department:
    department = Department(code=code, scope_unit_id=scope.id, **({"name": f"部门{code}"} | fields))
    session.add(department)
    await session.flush()
    return department


async def make_team(session: AsyncSession, grid: OrgUnit, **fields: Any) -> Team:
    """The service team of `grid` (one per grid)."""
    team = Team(grid_unit_id=grid.id, **({"name": f"团队{grid.code}"} | fields))
    session.add(team)
    await session.flush()
    return team


async def make_member(
    session: AsyncSession,
    staff: StaffAccount,
    *,
    team: Team | None = None,
    department: Department | None = None,
    **fields: Any,
) -> Member:
    """`staff` as a member of `team` (role grid_worker) or of `department` (role department_staff)."""
    values: dict[str, Any] = {"team_role": "grid_worker" if department is None else "department_staff"}
    member = Member(
        staff_id=staff.id,
        team_id=team.id if team else None,
        department_id=department.id if department else None,
        **(values | fields),
    )
    session.add(member)
    await session.flush()
    return member


async def make_leader_link(session: AsyncSession, leader: StaffAccount, **fields: Any) -> LeaderLink:
    """A leader's link (区委书记 by default) to a unit (`org_unit_id`) or a department (`department_id`)."""
    link = LeaderLink(leader_id=leader.id, **({"post": "区委书记"} | fields))
    session.add(link)
    await session.flush()
    return link


async def make_category(session: AsyncSession, code: str, **fields: Any) -> Category:
    """A catalog entry; its parent is the code before the last dot (`env` for `env.noise`)."""
    head, _, _ = code.rpartition(".")
    values: dict[str, Any] = {"parent_code": head or None, "name": f"类别{code}", "attributes": []}
    category = Category(code=code, **(values | fields))
    session.add(category)
    await session.flush()
    return category


async def make_request(
    session: AsyncSession,
    *,
    unit: OrgUnit | None = None,
    received_at: datetime | None = None,
    **fields: Any,
) -> Request:
    """A request row written straight through the ORM (no event, no outbox entry): a hotline `env.noise`
    request received now (or at `received_at`) at `unit`, answer due in 2 h and resolution in 7 days.
    Its category must exist (`make_catalog`)."""
    at = received_at or datetime.now(UTC)
    values: dict[str, Any] = {
        "tracking_no": str(next(_tracking)),
        "channel": "hotline",
        "category_code": "env.noise",
        "description": "工地夜间施工噪声扰民",
        "priority": "normal",
        "status": "received",
        "org_unit_id": unit.id if unit else None,
        "unit_path": unit.path if unit else "/",
        "citizen_token_hash": "0" * 64,
        "respond_by": at + timedelta(hours=2),
        "resolve_by": at + timedelta(days=7),
        "created_by": "test",
    }
    request = Request(received_at=at, **(values | fields))
    session.add(request)
    await session.flush()
    return request


async def make_assignment(session: AsyncSession, request: Request, **fields: Any) -> Assignment:
    """An active assignment of `request` to its lead (team or department), handler and unit as they stand
    on the row, numbered by its `routing_no` (at least 1), made a minute after it was received."""
    values: dict[str, Any] = {
        "routing_no": max(request.routing_no or 0, 1),
        "outcome": "assigned",
        "team_id": request.lead_team_id,
        "department_id": request.lead_department_id,
        "handler_id": request.handler_id,
        "unit_id": request.org_unit_id,
        "active": True,
        "created_at": request.received_at + timedelta(minutes=1),
    }
    assignment = Assignment(request_id=request.id, **(values | fields))
    session.add(assignment)
    await session.flush()
    return assignment


async def make_feedback(session: AsyncSession, request: Request, **fields: Any) -> Feedback:
    """A citizen's evaluation of the request's current resolution (resolved, satisfied), judging its lead
    at the time, given now."""
    values: dict[str, Any] = {
        "resolution_no": max(request.resolution_no or 0, 1),
        "resolved": True,
        "satisfaction": "satisfied",
        "source": "citizen",
        "team_id": request.lead_team_id,
        "department_id": request.lead_department_id,
        "handler_id": request.handler_id,
        "created_at": datetime.now(UTC),
    }
    feedback = Feedback(request_id=request.id, **(values | fields))
    session.add(feedback)
    await session.flush()
    return feedback


async def make_catalog(session: AsyncSession) -> None:
    """A few categories (one with a required list attribute, one key-group) and the default SLA policies."""
    noise_source = {
        "code": "noise_source",
        "datatype": "singlevaluelist",
        "description": "噪声来源",
        "required": False,
        "variable": True,
        "order": 1,
        "datatype_description": None,
        "values": [{"key": "construction", "name": "建筑施工"}, {"key": "shop", "name": "商铺"}],
    }
    rows = [
        ("env", None, "生态环境", "normal", False, []),
        ("env.noise", "env", "噪声扰民", "normal", False, [noise_source]),
        ("land", None, "征地拆迁", "high", True, []),
        ("land.acquisition", "land", "征地补偿", "high", True, []),
        ("utilities", None, "水电气暖", "normal", False, []),
        ("unknown", None, "待分类", "normal", False, []),
    ]
    for code, parent, name, priority, key_group, attributes in rows:
        await make_category(
            session,
            code,
            parent_code=parent,
            name=name,
            default_priority=priority,
            key_group=key_group,
            attributes=attributes,
        )
    await make_sla_policy(session, "general")
    await make_sla_policy(
        session,
        "emergency",
        priority="emergency",
        respond_amount=0.5,
        respond_unit="clock_hours",
        resolve_amount=2,
        resolve_unit="clock_hours",
    )
    await make_sla_policy(
        session, "utilities", category_prefix="utilities", resolve_amount=24, resolve_unit="clock_hours"
    )


async def make_sla_policy(session: AsyncSession, name: str, **fields: Any) -> SlaPolicy:
    """An SLA policy for every category and priority: answer within 2 working hours, resolve within
    7 working days."""
    values: dict[str, Any] = {
        "category_prefix": "*",
        "priority": None,
        "respond_amount": 2,
        "respond_unit": "working_hours",
        "resolve_amount": 7,
        "resolve_unit": "working_days",
    }
    policy = SlaPolicy(name=name, **(values | fields))
    session.add(policy)
    await session.flush()
    return policy


def request_body(**overrides: Any) -> dict[str, Any]:
    """A valid hotline request at the small city's first grid (121.505, 29.805)."""
    body: dict[str, Any] = {
        "channel": "hotline",
        "category": "env.noise",
        "description": "工地夜间施工噪声扰民",
        "location": {"lat": 29.805, "lon": 121.505},
        "citizen": {"name": "张三", "phone": "13800001234"},
    }
    body.update(overrides)
    return body


async def make_handling_setup(session: AsyncSession) -> dict[str, Any]:
    """Small city + catalog + a responsibility matrix, grid teams with two on-duty handlers each,
    a department (HB) with one member, and a dispatcher for the city. Returns what tests refer to."""
    from services.models import ResponsibilityRule

    units = await make_small_city(session)
    await make_catalog(session)
    hb = await make_department(session, "HB", units["3302"], name="市生态环境局")
    session.add_all(
        [
            ResponsibilityRule(category_prefix="*", org_unit_id=units["3302"].id, handler_kind="grid_team"),
            ResponsibilityRule(
                category_prefix="env", org_unit_id=units["3302"].id, handler_kind="department", lead_department_id=hb.id
            ),
            ResponsibilityRule(category_prefix="env.noise", org_unit_id=units["3302"].id, handler_kind="grid_team"),
        ]
    )
    teams: dict[str, Team] = {}
    handlers: dict[str, list[StaffAccount]] = {}
    for grid_code in ("330203001001001", "330203002001001", "330205001001001"):
        team = await make_team(session, units[grid_code])
        teams[grid_code] = team
        handlers[grid_code] = []
        for n in (1, 2):
            staff = await make_staff(session, f"h{n}_{grid_code}", "handler", units[grid_code])
            await make_member(session, staff, team=team, on_duty=True)
            handlers[grid_code].append(staff)
    hb_staff = await make_staff(session, "hb_1", "handler", units["3302"])
    await make_member(session, hb_staff, department=hb)
    dispatcher = await make_staff(session, "dispatcher", "dispatcher", units["3302"])
    district_dispatcher = await make_staff(session, "dispatcher_330205", "dispatcher", units["330205"])
    await session.flush()
    _, key = await make_api_key(
        session, rights=("requests:create", "requests:read", "feedback:create"), channels=("hotline", "app")
    )
    return {
        "units": units,
        "teams": teams,
        "handlers": handlers,
        "hb": hb,
        "hb_staff": hb_staff,
        "dispatcher": dispatcher,
        "district_dispatcher": district_dispatcher,
        "key": {"X-API-Key": key},
    }


def at_grid(grid_index: int, **overrides: Any) -> dict[str, Any]:
    """A request body located inside one of the small city's three grids (0, 1, 2)."""
    lon = 121.505 + 0.02 * grid_index
    return request_body(location={"lat": 29.805, "lon": lon}, **overrides)

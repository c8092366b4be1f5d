"""Factory functions: each test builds the data it needs, visibly."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.service import issue_token
from services.models import ApiKey, OrgUnit, StaffAccount
from shared.auth import generate_api_key, hash_password

PASSWORD = "correct-horse-battery"
_PASSWORD_HASH: list[str] = []  # argon2 is slow on purpose: hash the test password once


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
    session: AsyncSession, username: str, role: str, scope: OrgUnit, *, active: bool = True
) -> StaffAccount:
    staff = StaffAccount(
        username=username,
        display_name=username,
        password_hash=_password_hash(),
        role=role,
        scope_unit_id=scope.id,
        active=active,
    )
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


async def make_api_key(
    session: AsyncSession,
    *,
    rights: tuple[str, ...] = ("requests:create", "requests:read"),
    channels: tuple[str, ...] = ("hotline", "app"),
) -> tuple[ApiKey, str]:
    new = generate_api_key()
    record = ApiKey(
        name="test integration",
        prefix=new.prefix,
        secret_hash=new.secret_hash,
        channels=list(channels),
        rights=list(rights),
    )
    session.add(record)
    await session.flush()
    return record, new.key


async def make_catalog(session: AsyncSession) -> None:
    """A few categories (one with a required list attribute, one key-group) and the default SLA policies."""
    from services.models import Category, SlaPolicy

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
        session.add(
            Category(
                code=code,
                parent_code=parent,
                name=name,
                default_priority=priority,
                key_group=key_group,
                attributes=attributes,
            )
        )
    session.add_all(
        [
            SlaPolicy(
                name="general",
                category_prefix="*",
                priority=None,
                respond_amount=2,
                respond_unit="working_hours",
                resolve_amount=7,
                resolve_unit="working_days",
            ),
            SlaPolicy(
                name="emergency",
                category_prefix="*",
                priority="emergency",
                respond_amount=0.5,
                respond_unit="clock_hours",
                resolve_amount=2,
                resolve_unit="clock_hours",
            ),
            SlaPolicy(
                name="utilities",
                category_prefix="utilities",
                priority=None,
                respond_amount=2,
                respond_unit="working_hours",
                resolve_amount=24,
                resolve_unit="clock_hours",
            ),
        ]
    )
    await session.flush()


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
    from services.models import Department, Member, ResponsibilityRule, Team

    units = await make_small_city(session)
    await make_catalog(session)
    hb = Department(code="HB", name="市生态环境局", scope_unit_id=units["3302"].id)
    session.add(hb)
    await session.flush()
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
        team = Team(name=f"团队{grid_code}", grid_unit_id=units[grid_code].id)
        session.add(team)
        await session.flush()
        teams[grid_code] = team
        handlers[grid_code] = []
        for n in (1, 2):
            staff = await make_staff(session, f"h{n}_{grid_code}", "handler", units[grid_code])
            session.add(Member(staff_id=staff.id, team_id=team.id, team_role="grid_worker", on_duty=True))
            handlers[grid_code].append(staff)
    hb_staff = await make_staff(session, "hb_1", "handler", units["3302"])
    session.add(Member(staff_id=hb_staff.id, department_id=hb.id, team_role="department_staff"))
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

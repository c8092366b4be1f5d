"""Rules of the organisation and configuration domain. Takes a session, never commits."""

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Category, Department, Member, OrgUnit, StaffAccount, Team
from services.models.org import LEVELS
from services.org import repository as repo
from services.org.errors import (
    CategoryNotFound,
    DepartmentNotFound,
    DuplicateCode,
    InUse,
    MemberNotFound,
    OrgUnitNotFound,
    TeamNotFound,
)
from services.org.geometry import check_polygon
from services.org.schemas import (
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    DepartmentCreate,
    DepartmentOut,
    DepartmentUpdate,
    GridImport,
    GridImportResult,
    MemberCreate,
    MemberOut,
    MemberUpdate,
    OrgUnitCreate,
    OrgUnitOut,
    OrgUnitUpdate,
    TeamCreate,
    TeamOut,
    TeamUpdate,
    category_parent,
)
from shared.auth import Principal, require_city_admin
from shared.errors import InvalidInput, check_version, field_error
from shared.pagination import Page, decode_cursor, next_cursor

IMPORT_ERRORS_SHOWN = 50


def child_level(level: str) -> str | None:
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


# ---- org units -------------------------------------------------------------------------------


async def get_unit(session: AsyncSession, principal: Principal, code: str) -> OrgUnit:
    unit = await repo.unit_by_code(session, code)
    if unit is None or not principal.covers(unit.path):
        raise OrgUnitNotFound(f"No org unit with code {code!r}")
    return unit


async def unit_out(session: AsyncSession, unit: OrgUnit, *, with_geometry: bool = True) -> OrgUnitOut:
    parent_code = None
    if unit.parent_id is not None:
        parent_code = (await repo.codes_of_units(session, {unit.parent_id}))[unit.parent_id]
    return _unit_out(unit, parent_code, with_geometry)


def _unit_out(unit: OrgUnit, parent_code: str | None, with_geometry: bool) -> OrgUnitOut:
    return OrgUnitOut(
        code=unit.code,
        name=unit.name,
        name_en=unit.name_en,
        level=unit.level,
        parent_code=parent_code,
        path=unit.path,
        geometry=unit.geometry if with_geometry else None,
        version=unit.version,
        created_at=unit.created_at,
        updated_at=unit.updated_at,
    )


async def list_units(
    session: AsyncSession,
    principal: Principal,
    *,
    level: str | None,
    parent_code: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
    with_geometry: bool,
) -> Page[OrgUnitOut]:
    parent_id = None
    if parent_code is not None:
        parent_id = (await get_unit(session, principal, parent_code)).id
    stmt = repo.list_units_query(principal.scope_path, level, parent_id, q, decode_cursor(cursor), limit)
    units = list(await session.scalars(stmt))
    parents = await repo.codes_of_units(session, {u.parent_id for u in units if u.parent_id is not None})
    items = [_unit_out(u, parents.get(u.parent_id) if u.parent_id else None, with_geometry) for u in units]
    return Page(items=items, next_cursor=next_cursor([u.id for u in units], limit))


async def create_unit(session: AsyncSession, principal: Principal, data: OrgUnitCreate) -> OrgUnit:
    if await repo.unit_by_code(session, data.code) is not None:
        raise DuplicateCode(
            f"An org unit with code {data.code!r} exists", errors=[field_error("code", "duplicate code")]
        )
    if data.parent_code is None:
        if data.level != "city" or principal.scope_path != "/":
            raise InvalidInput(
                "Only a city may have no parent", errors=[field_error("parent_code", "required below city level")]
            )
        if await session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).limit(1)) is not None:
            raise DuplicateCode("The city already exists", errors=[field_error("level", "one city per deployment")])
        path = f"/{data.code}/"
        parent_id = None
    else:
        parent = await get_unit(session, principal, data.parent_code)
        if child_level(parent.level) != data.level:
            raise InvalidInput(
                f"A {parent.level} takes children of level {child_level(parent.level)}",
                errors=[field_error("level", f"must be {child_level(parent.level)} under a {parent.level}")],
            )
        path = f"{parent.path}{data.code}/"
        parent_id = parent.id
    bounds: tuple[float | None, ...] = (None, None, None, None)
    geometry = data.geometry.model_dump() if data.geometry else None
    if data.level == "grid" and geometry is None:
        raise InvalidInput("A grid needs its polygon", errors=[field_error("geometry", "required for grids")])
    if geometry is not None:
        try:
            bounds = check_polygon(geometry).bounds
        except ValueError as exc:
            raise InvalidInput(str(exc), errors=[field_error("geometry", str(exc))]) from exc
    unit = OrgUnit(
        code=data.code,
        name=data.name,
        name_en=data.name_en,
        level=data.level,
        parent_id=parent_id,
        path=path,
        geometry=geometry,
        min_lon=bounds[0],
        min_lat=bounds[1],
        max_lon=bounds[2],
        max_lat=bounds[3],
    )
    session.add(unit)
    await session.flush()
    repo.forget_cached()
    return unit


async def update_unit(
    session: AsyncSession, principal: Principal, code: str, data: OrgUnitUpdate, if_match: int | None
) -> OrgUnit:
    unit = await get_unit(session, principal, code)
    check_version(unit.version, data.version or if_match)
    if data.name is not None:
        unit.name = data.name
    if "name_en" in data.model_fields_set:
        unit.name_en = data.name_en
    if data.geometry is not None:
        geometry = data.geometry.model_dump()
        try:
            unit.min_lon, unit.min_lat, unit.max_lon, unit.max_lat = check_polygon(geometry).bounds
        except ValueError as exc:
            raise InvalidInput(str(exc), errors=[field_error("geometry", str(exc))]) from exc
        unit.geometry = geometry
        repo.forget_cached()
    unit.version += 1
    await session.flush()
    await session.refresh(unit)
    return unit


async def delete_unit(session: AsyncSession, principal: Principal, code: str) -> None:
    unit = await get_unit(session, principal, code)
    if await repo.unit_is_referenced(session, unit.id):
        raise InUse(f"Org unit {code!r} still has children, teams, departments, rules or staff")
    await session.delete(unit)
    await session.flush()
    repo.forget_cached()


async def import_grids(session: AsyncSession, principal: Principal, data: GridImport) -> GridImportResult:
    """Create or replace grids from a FeatureCollection: all of it, or (on any error) none of it."""
    features = data.features
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        code = feature.properties.code
        if code in seen:
            errors.append(
                field_error(
                    ["features", index, "properties", "code"], f"feature {code!r}: duplicate of feature {seen[code]}"
                )
            )
        seen.setdefault(code, index)
    parents = await repo.units_by_codes(session, sorted({f.properties.parent_code for f in features}))
    existing = await repo.units_by_codes(session, list(seen))
    rows: list[dict[str, Any]] = []
    for index, feature in enumerate(features):
        props = feature.properties
        parent = parents.get(props.parent_code)
        if parent is None or not principal.covers(parent.path):
            errors.append(
                field_error(
                    ["features", index, "properties", "parent_code"],
                    f"feature {props.code!r}: unknown parent {props.parent_code!r}",
                )
            )
            continue
        if parent.level != "community":
            errors.append(
                field_error(
                    ["features", index, "properties", "parent_code"],
                    f"feature {props.code!r}: parent {props.parent_code!r} is a {parent.level}, not a community",
                )
            )
            continue
        current = existing.get(props.code)
        if current is not None and (current.level != "grid" or current.parent_id != parent.id):
            errors.append(
                field_error(
                    ["features", index, "properties", "code"],
                    f"feature {props.code!r}: code already used by another org unit",
                )
            )
            continue
        geometry = feature.geometry.model_dump()
        try:
            bounds = check_polygon(geometry).bounds
        except ValueError as exc:
            errors.append(field_error(["features", index, "geometry"], f"feature {props.code!r}: {exc}"))
            continue
        rows.append(
            {
                "code": props.code,
                "name": props.name,
                "name_en": props.name_en,
                "level": "grid",
                "parent_id": parent.id,
                "path": f"{parent.path}{props.code}/",
                "geometry": geometry,
                "min_lon": bounds[0],
                "min_lat": bounds[1],
                "max_lon": bounds[2],
                "max_lat": bounds[3],
            }
        )
    if errors:
        shown = errors[:IMPORT_ERRORS_SHOWN]
        more = f" ({len(errors) - len(shown)} more not shown)" if len(errors) > len(shown) else ""
        raise InvalidInput(
            f"{len(errors)} feature(s) rejected, nothing imported; first: {shown[0]['msg']}{more}", errors=shown
        )
    new_rows = [r for r in rows if r["code"] not in existing]
    changed_rows = [r for r in rows if r["code"] in existing]
    # Core bulk statements: 10,000 ORM objects would cost seconds for nothing.
    if new_rows:
        await session.execute(insert(OrgUnit), new_rows)
    for row in changed_rows:
        await session.execute(
            update(OrgUnit)
            .where(OrgUnit.code == row["code"])
            .values(
                name=row["name"],
                name_en=row["name_en"],
                geometry=row["geometry"],
                min_lon=row["min_lon"],
                min_lat=row["min_lat"],
                max_lon=row["max_lon"],
                max_lat=row["max_lat"],
                version=OrgUnit.version + 1,
            )
        )
    repo.forget_cached()
    return GridImportResult(created=len(new_rows), updated=len(changed_rows))


# ---- departments -----------------------------------------------------------------------------


async def get_department(session: AsyncSession, principal: Principal, code: str) -> tuple[Department, OrgUnit]:
    department = await repo.department_by_code(session, code)
    if department is not None:
        scope = (await repo.units_by_ids(session, {department.scope_unit_id}))[department.scope_unit_id]
        if principal.covers(scope.path):
            return department, scope
    raise DepartmentNotFound(f"No department with code {code!r}")


def department_out(department: Department, scope: OrgUnit) -> DepartmentOut:
    return DepartmentOut(
        id=department.id,
        code=department.code,
        name=department.name,
        name_en=department.name_en,
        scope_code=scope.code,
        active=department.active,
        version=department.version,
    )


async def list_departments(session: AsyncSession, principal: Principal) -> list[DepartmentOut]:
    rows = await session.execute(
        select(Department, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Department.scope_unit_id)
        .where(OrgUnit.path.startswith(principal.scope_path, autoescape=True))
        .order_by(Department.code)
    )
    return [department_out(d, u) for d, u in rows]


async def create_department(session: AsyncSession, principal: Principal, data: DepartmentCreate) -> DepartmentOut:
    scope = await get_unit(session, principal, data.scope_code)
    if scope.level not in ("city", "district"):
        raise InvalidInput(
            "A department serves the city or a district",
            errors=[field_error("scope_code", "must be a city or district")],
        )
    if await repo.department_by_code(session, data.code) is not None:
        raise DuplicateCode(f"A department with code {data.code!r} exists", errors=[field_error("code", "duplicate")])
    department = Department(code=data.code, name=data.name, name_en=data.name_en, scope_unit_id=scope.id)
    session.add(department)
    await session.flush()
    return department_out(department, scope)


async def update_department(
    session: AsyncSession, principal: Principal, code: str, data: DepartmentUpdate, if_match: int | None
) -> DepartmentOut:
    department, scope = await get_department(session, principal, code)
    check_version(department.version, data.version or if_match)
    for field in ("name", "name_en", "active"):
        if field in data.model_fields_set and (getattr(data, field) is not None or field == "name_en"):
            setattr(department, field, getattr(data, field))
    department.version += 1
    await session.flush()
    return department_out(department, scope)


# ---- teams and members -----------------------------------------------------------------------


async def _staff_by_username(session: AsyncSession, principal: Principal, username: str) -> StaffAccount:
    staff = await session.scalar(select(StaffAccount).where(StaffAccount.username == username))
    if staff is not None:
        path = (await repo.paths_of_units(session, {staff.scope_unit_id}))[staff.scope_unit_id]
        if principal.covers(path):
            return staff
    raise InvalidInput(f"No staff account {username!r}", errors=[field_error("username", "unknown staff account")])


def _member_out(member: Member, staff: StaffAccount, department_code: str | None = None) -> MemberOut:
    return MemberOut(
        id=member.id,
        staff_id=member.staff_id,
        username=staff.username,
        display_name=staff.display_name,
        team_role=member.team_role,
        on_duty=member.on_duty,
        team_id=member.team_id,
        department_id=member.department_id,
        department_code=department_code,
        version=member.version,
    )


async def get_team(session: AsyncSession, principal: Principal, team_id: int) -> tuple[Team, OrgUnit]:
    team = await repo.team_by_id(session, team_id)
    if team is not None:
        grid = (await repo.units_by_ids(session, {team.grid_unit_id}))[team.grid_unit_id]
        if principal.covers(grid.path):
            return team, grid
    raise TeamNotFound(f"No team {team_id}")


async def team_out(session: AsyncSession, team: Team, grid: OrgUnit) -> TeamOut:
    members = await repo.team_members(session, [team.id])
    return TeamOut(
        id=team.id,
        name=team.name,
        grid_code=grid.code,
        members=[_member_out(m, s) for m, s in members],
        version=team.version,
    )


async def list_teams(
    session: AsyncSession, principal: Principal, *, under_code: str | None, cursor: str | None, limit: int
) -> Page[TeamOut]:
    scope_path = principal.scope_path
    if under_code is not None:
        scope_path = (await get_unit(session, principal, under_code)).path
    stmt = (
        select(Team, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Team.grid_unit_id)
        .where(OrgUnit.path.startswith(scope_path, autoescape=True))
    )
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Team.id > after)
    rows = list(await session.execute(stmt.order_by(Team.id).limit(limit)))
    members = await repo.team_members(session, [t.id for t, _ in rows])
    by_team: dict[int, list[MemberOut]] = {}
    for m, s in members:
        by_team.setdefault(m.team_id or 0, []).append(_member_out(m, s))
    items = [
        TeamOut(id=t.id, name=t.name, grid_code=g.code, members=by_team.get(t.id, []), version=t.version)
        for t, g in rows
    ]
    return Page(items=items, next_cursor=next_cursor([t.id for t, _ in rows], limit))


async def create_team(session: AsyncSession, principal: Principal, data: TeamCreate) -> TeamOut:
    grid = await get_unit(session, principal, data.grid_code)
    if grid.level != "grid":
        raise InvalidInput("Teams belong to grids", errors=[field_error("grid_code", "must be a grid")])
    if await session.scalar(select(Team.id).where(Team.grid_unit_id == grid.id)) is not None:
        raise DuplicateCode(f"Grid {grid.code!r} already has a team", errors=[field_error("grid_code", "has a team")])
    team = Team(name=data.name, grid_unit_id=grid.id)
    session.add(team)
    await session.flush()
    return TeamOut(id=team.id, name=team.name, grid_code=grid.code, members=[], version=team.version)


async def update_team(
    session: AsyncSession, principal: Principal, team_id: int, data: TeamUpdate, if_match: int | None
) -> TeamOut:
    team, grid = await get_team(session, principal, team_id)
    check_version(team.version, data.version or if_match)
    if data.name is not None:
        team.name = data.name
    team.version += 1
    await session.flush()
    return await team_out(session, team, grid)


async def add_team_member(session: AsyncSession, principal: Principal, team_id: int, data: MemberCreate) -> MemberOut:
    team, _ = await get_team(session, principal, team_id)
    if data.team_role == "department_staff":
        raise InvalidInput(
            "department_staff is a department role", errors=[field_error("team_role", "not a team role")]
        )
    staff = await _staff_by_username(session, principal, data.username)
    return await _add_member(session, staff, data, team_id=team.id)


async def add_department_member(
    session: AsyncSession, principal: Principal, code: str, data: MemberCreate
) -> MemberOut:
    department, _ = await get_department(session, principal, code)
    if data.team_role not in ("department_staff", "specialist"):
        raise InvalidInput(
            "Department members are department_staff or specialist",
            errors=[field_error("team_role", "not a department role")],
        )
    staff = await _staff_by_username(session, principal, data.username)
    return await _add_member(session, staff, data, department_id=department.id, department_code=department.code)


async def _add_member(
    session: AsyncSession,
    staff: StaffAccount,
    data: MemberCreate,
    *,
    team_id: int | None = None,
    department_id: int | None = None,
    department_code: str | None = None,
) -> MemberOut:
    home = Member.team_id == team_id if team_id is not None else Member.department_id == department_id
    if await session.scalar(select(Member.id).where(Member.staff_id == staff.id, home)) is not None:
        raise DuplicateCode(
            f"{staff.username!r} is already a member", errors=[field_error("username", "already a member")]
        )
    member = Member(
        staff_id=staff.id, team_id=team_id, department_id=department_id, team_role=data.team_role, on_duty=data.on_duty
    )
    session.add(member)
    await session.flush()
    return _member_out(member, staff, department_code)


async def _get_member(
    session: AsyncSession, principal: Principal, member_id: int
) -> tuple[Member, StaffAccount, str | None]:
    found = await repo.member_with_staff(session, member_id)
    if found is not None:
        member, staff = found
        if member.team_id is not None:
            team = await repo.team_by_id(session, member.team_id)
            unit_id = team.grid_unit_id if team else None
            department_code = None
        else:
            department = await session.get(Department, member.department_id)
            unit_id = department.scope_unit_id if department else None
            department_code = department.code if department else None
        if unit_id is not None and principal.covers((await repo.paths_of_units(session, {unit_id}))[unit_id]):
            return member, staff, department_code
    raise MemberNotFound(f"No member {member_id}")


async def update_member(
    session: AsyncSession, principal: Principal, member_id: int, data: MemberUpdate, if_match: int | None
) -> MemberOut:
    member, staff, department_code = await _get_member(session, principal, member_id)
    check_version(member.version, data.version or if_match)
    if data.team_role is not None:
        if (data.team_role == "department_staff") != (
            member.department_id is not None
        ) and data.team_role != "specialist":
            raise InvalidInput(
                "That role does not fit this membership", errors=[field_error("team_role", "wrong kind")]
            )
        member.team_role = data.team_role
    if data.on_duty is not None:
        member.on_duty = data.on_duty
    member.version += 1
    await session.flush()
    return _member_out(member, staff, department_code)


async def remove_member(session: AsyncSession, principal: Principal, member_id: int) -> None:
    member, _, _ = await _get_member(session, principal, member_id)
    await session.delete(member)
    await session.flush()


async def list_department_members(session: AsyncSession, principal: Principal, code: str) -> list[MemberOut]:
    department, _ = await get_department(session, principal, code)
    return [_member_out(m, s, department.code) for m, s in await repo.department_members(session, department.id)]


# ---- categories ------------------------------------------------------------------------------


async def list_categories(session: AsyncSession, *, include_inactive: bool = False) -> list[CategoryOut]:
    stmt = select(Category).order_by(Category.code)
    if not include_inactive:
        stmt = stmt.where(Category.active.is_(True))
    return [CategoryOut.model_validate(c) for c in await session.scalars(stmt)]


async def get_category(session: AsyncSession, code: str) -> Category:
    category = await repo.category_by_code(session, code)
    if category is None:
        raise CategoryNotFound(f"No category {code!r}")
    return category


async def create_category(session: AsyncSession, principal: Principal, data: CategoryCreate) -> Category:
    require_city_admin(principal)
    if await repo.category_by_code(session, data.code) is not None:
        raise DuplicateCode(f"Category {data.code!r} exists", errors=[field_error("code", "duplicate")])
    parent = category_parent(data.code)
    if parent is not None and await repo.category_by_code(session, parent) is None:
        raise InvalidInput(
            f"Create the parent category {parent!r} first", errors=[field_error("code", f"unknown parent {parent!r}")]
        )
    category = Category(
        code=data.code,
        parent_code=parent,
        name=data.name,
        name_en=data.name_en,
        description=data.description,
        default_priority=data.default_priority,
        key_group=data.key_group,
        attributes=[a.model_dump() for a in data.attributes],
    )
    session.add(category)
    await session.flush()
    repo.forget_cached()
    return category


async def update_category(
    session: AsyncSession, principal: Principal, code: str, data: CategoryUpdate, if_match: int | None
) -> Category:
    require_city_admin(principal)
    category = await get_category(session, code)
    check_version(category.version, data.version or if_match)
    for field in ("name", "default_priority", "key_group", "active"):
        value = getattr(data, field)
        if value is not None:
            setattr(category, field, value)
    for field in ("name_en", "description"):
        if field in data.model_fields_set:
            setattr(category, field, getattr(data, field))
    if data.attributes is not None:
        category.attributes = [a.model_dump() for a in data.attributes]
    category.version += 1
    await session.flush()
    await session.refresh(category)
    repo.forget_cached()
    return category

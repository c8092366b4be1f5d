"""Loads the demo city (a Ningbo-like data set) into an empty database."""

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cli.demo.catalog import CATEGORIES, CITY_DEPARTMENTS, CITY_RULES, DISTRICT_DEPARTMENT, SLA_POLICIES
from cli.demo.geography import UnitSpec, generate_units
from services.models import (
    ApiKey,
    Category,
    Department,
    Member,
    OrgUnit,
    ResponsibilityRule,
    SlaPolicy,
    StaffAccount,
    Team,
)
from services.org import repository as repo
from services.org.geometry import check_polygon
from services.org.schemas import category_parent
from shared.auth import API_KEY_RIGHTS, CHANNELS, generate_api_key, hash_password

ADMIN_USERNAME = "admin"


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    admin_username: str
    admin_password: str
    staff_password: str  # shared by every other demo account (hashing 2,000 passwords would take minutes)
    api_key: str
    staff_examples: dict[str, str]  # role → a username holding it

    def lines(self) -> list[str]:
        examples = ", ".join(f"{role}={name}" for role, name in sorted(self.staff_examples.items()))
        return [
            f"Admin login: {self.admin_username} {self.admin_password}",
            f"API key: {self.api_key}",
            f"Staff password: {self.staff_password} (demo accounts: {examples})",
        ]


async def load_demo(session: AsyncSession, *, seed: int = 2026) -> DemoCredentials:
    """Load the whole demo city; the database must hold no org units yet."""
    if not await repo.is_empty(session):
        raise RuntimeError("the database already holds an organisation; the demo loads only into an empty one")
    units = generate_units(seed)
    ids = await _insert_units(session, units)
    city = units[0]
    departments = await _insert_departments(session, units, ids)
    await _insert_categories(session)
    await _insert_rules(session, units, ids, departments)
    session.add_all(
        SlaPolicy(
            name=name,
            category_prefix=prefix,
            priority=priority,
            respond_amount=ra,
            respond_unit=ru,
            resolve_amount=sa,
            resolve_unit=su,
        )
        for name, prefix, priority, ra, ru, sa, su in SLA_POLICIES
    )
    admin_password = secrets.token_urlsafe(12)
    staff_password = secrets.token_urlsafe(12)
    examples = await _insert_staff(session, units, ids, departments, admin_password, staff_password)
    new_key = generate_api_key()
    session.add(
        ApiKey(
            name="demo integration (81890 hotline, city app)",
            prefix=new_key.prefix,
            secret_hash=new_key.secret_hash,
            channels=list(CHANNELS),
            rights=list(API_KEY_RIGHTS),
        )
    )
    await session.flush()
    assert city.level == "city"
    return DemoCredentials(ADMIN_USERNAME, admin_password, staff_password, new_key.key, examples)


async def _insert_units(session: AsyncSession, units: list[UnitSpec]) -> dict[str, int]:
    """Insert level by level (parents first), returning code → id."""
    ids: dict[str, int] = {}
    paths: dict[str, str] = {}
    for level in ("city", "district", "street", "community", "grid"):
        rows: list[dict[str, Any]] = []
        for spec in units:
            if spec.level != level:
                continue
            path = f"{paths[spec.parent_code] if spec.parent_code else '/'}{spec.code}/"
            paths[spec.code] = path
            bounds: tuple[float | None, ...] = (None, None, None, None)
            if spec.geometry is not None and level == "grid":
                bounds = check_polygon(spec.geometry).bounds
            rows.append(
                {
                    "code": spec.code,
                    "name": spec.name,
                    "name_en": spec.name_en,
                    "level": level,
                    "parent_id": ids[spec.parent_code] if spec.parent_code else None,
                    "path": path,
                    # Only grids keep a polygon: routing needs them, and higher levels are their union.
                    "geometry": spec.geometry if level == "grid" else None,
                    "min_lon": bounds[0],
                    "min_lat": bounds[1],
                    "max_lon": bounds[2],
                    "max_lat": bounds[3],
                }
            )
        if rows:
            await session.execute(insert(OrgUnit), rows)
            result = await session.execute(select(OrgUnit.code, OrgUnit.id).where(OrgUnit.level == level))
            ids.update({code: id_ for code, id_ in result})
    return ids


async def _insert_departments(
    session: AsyncSession, units: list[UnitSpec], ids: dict[str, int]
) -> dict[str, Department]:
    city_code = units[0].code
    departments = [
        Department(code=code, name=name, name_en=name_en, scope_unit_id=ids[city_code])
        for code, name, name_en in CITY_DEPARTMENTS
    ]
    for spec in units:
        if spec.level == "district":
            code, name, name_en = DISTRICT_DEPARTMENT
            departments.append(
                Department(
                    code=f"{spec.code}-{code}",
                    name=f"{spec.name}{name}",
                    name_en=f"{spec.name_en} {name_en}",
                    scope_unit_id=ids[spec.code],
                )
            )
    session.add_all(departments)
    await session.flush()
    return {d.code: d for d in departments}


async def _insert_categories(session: AsyncSession) -> None:
    session.add_all(
        Category(
            code=code,
            parent_code=category_parent(code),
            name=name,
            name_en=name_en,
            default_priority=priority,
            key_group=key_group,
            attributes=attributes,
        )
        for code, name, name_en, priority, key_group, attributes in CATEGORIES
    )
    await session.flush()


async def _insert_rules(
    session: AsyncSession, units: list[UnitSpec], ids: dict[str, int], departments: dict[str, Department]
) -> None:
    city_id = ids[units[0].code]
    for prefix, kind, lead, co in CITY_RULES:
        session.add(
            ResponsibilityRule(
                category_prefix=prefix,
                org_unit_id=city_id,
                handler_kind=kind,
                lead_department_id=departments[lead].id if lead else None,
                co_department_ids=[departments[c].id for c in co],
            )
        )
    # City management is handled by each district's own law-enforcement bureau.
    for spec in units:
        if spec.level == "district":
            department = departments[f"{spec.code}-{DISTRICT_DEPARTMENT[0]}"]
            session.add(
                ResponsibilityRule(
                    category_prefix="city",
                    org_unit_id=ids[spec.code],
                    handler_kind="department",
                    lead_department_id=department.id,
                )
            )
    await session.flush()


async def _insert_staff(
    session: AsyncSession,
    units: list[UnitSpec],
    ids: dict[str, int],
    departments: dict[str, Department],
    admin_password: str,
    staff_password: str,
) -> dict[str, str]:
    city_code = units[0].code
    shared_hash = hash_password(staff_password)
    staff_rows: list[dict[str, Any]] = [
        _staff(ADMIN_USERNAME, "系统管理员", "admin", ids[city_code], hash_password(admin_password)),
        _staff("supervisor_city", "市考核办督查员", "supervisor", ids[city_code], shared_hash),
        _staff("auditor_city", "市审计员", "auditor", ids[city_code], shared_hash),
        _staff("dispatcher_city", "市民情会办中心调度员", "dispatcher", ids[city_code], shared_hash),
        _staff("clerk_city", "市民服务中心窗口", "clerk", ids[city_code], shared_hash),
    ]
    for spec in units:
        if spec.level == "district":
            staff_rows.append(
                _staff(f"dispatcher_{spec.code}", f"{spec.name}调度员", "dispatcher", ids[spec.code], shared_hash)
            )
            staff_rows.append(
                _staff(f"supervisor_{spec.code}", f"{spec.name}督查员", "supervisor", ids[spec.code], shared_hash)
            )
        elif spec.level == "street":
            staff_rows.append(
                _staff(f"clerk_{spec.code}", f"{spec.name}便民服务窗口", "clerk", ids[spec.code], shared_hash)
            )
        elif spec.level == "grid":
            staff_rows.append(_staff(f"gw_{spec.code}", f"{spec.name}网格员", "handler", ids[spec.code], shared_hash))
            staff_rows.append(_staff(f"sw_{spec.code}", f"{spec.name}社工", "handler", ids[spec.code], shared_hash))
    for department in departments.values():
        for n in (1, 2):
            staff_rows.append(
                _staff(
                    f"dept_{department.code}_{n}",
                    f"{department.name}承办人{n}",
                    "handler",
                    department.scope_unit_id,
                    shared_hash,
                )
            )
    await session.execute(insert(StaffAccount), staff_rows)
    staff_ids = {u: i for u, i in (await session.execute(select(StaffAccount.username, StaffAccount.id)))}

    grids = [spec for spec in units if spec.level == "grid"]
    await session.execute(
        insert(Team), [{"name": f"{spec.name}服务团队", "grid_unit_id": ids[spec.code]} for spec in grids]
    )
    team_ids = {g: t for g, t in (await session.execute(select(Team.grid_unit_id, Team.id)))}
    members: list[dict[str, Any]] = []
    for spec in grids:
        team_id = team_ids[ids[spec.code]]
        members.append(
            {
                "staff_id": staff_ids[f"gw_{spec.code}"],
                "team_id": team_id,
                "department_id": None,
                "team_role": "grid_worker",
                "on_duty": True,
            }
        )
        members.append(
            {
                "staff_id": staff_ids[f"sw_{spec.code}"],
                "team_id": team_id,
                "department_id": None,
                "team_role": "social_worker",
                "on_duty": True,
            }
        )
    for department in departments.values():
        for n in (1, 2):
            members.append(
                {
                    "staff_id": staff_ids[f"dept_{department.code}_{n}"],
                    "department_id": department.id,
                    "team_id": None,
                    "team_role": "department_staff",
                    "on_duty": True,
                }
            )
    await session.execute(insert(Member), members)
    first_grid = grids[0].code
    return {
        "dispatcher": f"dispatcher_{units[1].code}",
        "supervisor": "supervisor_city",
        "auditor": "auditor_city",
        "clerk": "clerk_city",
        "handler": f"gw_{first_grid}",
    }


def _staff(username: str, display_name: str, role: str, scope_unit_id: int, password_hash: str) -> dict[str, Any]:
    return {
        "username": username,
        "display_name": display_name,
        "role": role,
        "scope_unit_id": scope_unit_id,
        "password_hash": password_hash,
    }

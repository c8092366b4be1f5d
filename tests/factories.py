"""Factory functions: each test builds the data it needs, visibly."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import ApiKey, StaffAccount
from services.identity.service import issue_token
from services.org.models import OrgUnit
from shared.auth import generate_api_key, hash_password

PASSWORD = "correct-horse-battery"


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
    """City 3302 with two districts, three streets, a community and a grid under each street."""
    units: dict[str, OrgUnit] = {}
    units["3302"] = await make_unit(session, "3302", "city", name="宁波市")
    for district, streets in (("330203", ("330203001", "330203002")), ("330205", ("330205001",))):
        units[district] = await make_unit(session, district, "district", units["3302"])
        for offset, street in enumerate(streets):
            units[street] = await make_unit(session, street, "street", units[district])
            community = street + "001"
            units[community] = await make_unit(session, community, "community", units[street])
            grid = community + "001"
            units[grid] = await make_unit(
                session, grid, "grid", units[community], geometry=square(121.5 + 0.02 * offset, 29.8)
            )
    return units


async def make_staff(
    session: AsyncSession, username: str, role: str, scope: OrgUnit, *, active: bool = True
) -> StaffAccount:
    staff = StaffAccount(
        username=username,
        display_name=username,
        password_hash=hash_password(PASSWORD),
        role=role,
        scope_unit_id=scope.id,
        active=active,
    )
    session.add(staff)
    await session.flush()
    return staff


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

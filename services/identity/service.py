"""Logging staff in, resolving callers to principals, and managing accounts and API keys."""

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.audit.service import changes as audit_changes
from services.identity.errors import ApiKeyNotFound, StaffNotFound
from services.identity.schemas import ApiKeyCreate, StaffCreate, StaffUpdate
from services.models import ApiKey, OrgUnit, StaffAccount
from services.org.errors import DuplicateCode
from services.org.service import get_unit, in_scope
from shared import ratelimit
from shared.auth import (
    Credentials,
    Principal,
    api_key_matches,
    decode_access_token,
    generate_api_key,
    hash_api_key,
    hash_password,
    issue_access_token,
    parse_api_key,
    require_city_admin,
    verify_password,
)
from shared.errors import NotAuthenticated, check_version, field_error
from shared.pagination import decode_cursor, next_cursor
from shared.settings import get_settings
from shared.views import Rows, RowWith

# What the admin audit trail keeps of a staff account and an API key (never a password or key hash).
STAFF_AUDIT_FIELDS = ("username", "display_name", "role", "active", "version")
API_KEY_AUDIT_FIELDS = ("name", "prefix", "channels", "rights", "revoked_at")

# last_used_at is a hint for operators, not an audit trail: write it at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=5)


async def authenticate(session: AsyncSession, username: str, password: str) -> StaffAccount:
    staff = await session.scalar(select(StaffAccount).where(StaffAccount.username == username))
    # argon2 takes a quarter of a second of CPU by design: off the event loop (the C code releases the
    # GIL), so one login does not stall every other request of the process.
    matches = await asyncio.to_thread(verify_password, staff.password_hash if staff else None, password)
    if not matches or staff is None or not staff.active:
        raise NotAuthenticated("Wrong username or password")
    staff.last_login_at = datetime.now(UTC)
    return staff


async def staff_principal(session: AsyncSession, staff_id: int) -> Principal:
    """The principal of a token's subject, read fresh so that deactivation and role changes bite at once."""
    row = (
        await session.execute(
            select(StaffAccount, OrgUnit.path, OrgUnit.code)
            .join(OrgUnit, OrgUnit.id == StaffAccount.scope_unit_id)
            .where(StaffAccount.id == staff_id)
        )
    ).first()
    if row is None or not row[0].active:
        raise NotAuthenticated("The account is unknown or disabled")
    staff, path, code = row
    return Principal(kind="staff", id=staff.id, name=staff.username, role=staff.role, scope_path=path, scope_code=code)


# Integrations call at high rates: a verified key is remembered briefly, so a revocation takes effect
# at once in the process that revoked it and within KEY_CACHE_SECONDS everywhere else.
KEY_CACHE_SECONDS = 10.0
_key_cache: dict[str, tuple[float, Principal]] = {}


def forget_api_keys() -> None:
    _key_cache.clear()


async def api_key_principal(session: AsyncSession, key: str) -> Principal:
    """The integration behind `key`, each call counted against its rate (429 past API_KEY_RATE_PER_MINUTE)."""
    digest = hash_api_key(key)
    cached = _key_cache.get(digest)
    if cached is not None and time.monotonic() - cached[0] < KEY_CACHE_SECONDS:
        principal = cached[1]
    else:
        principal = await _load_api_key_principal(session, key)
        if len(_key_cache) > 10_000:
            _key_cache.clear()
        _key_cache[digest] = (time.monotonic(), principal)
    # Counted per key id across every API process, so replicas don't multiply an integration's allowance.
    await ratelimit.hit(f"api-key:{principal.id}", get_settings().api_key_rate_per_minute, 60)
    return principal


async def _load_api_key_principal(session: AsyncSession, key: str) -> Principal:
    prefix = parse_api_key(key)
    record = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
    if record is None or record.revoked_at is not None or not api_key_matches(key, record.secret_hash):
        raise NotAuthenticated("The API key is invalid or revoked")
    now = datetime.now(UTC)
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        await session.execute(update(ApiKey).where(ApiKey.id == record.id).values(last_used_at=now))
    return Principal(
        kind="integration",
        id=record.id,
        name=record.name,
        scope_path="/",
        rights=frozenset(record.rights),
        channels=frozenset(record.channels),
    )


# ---- staff accounts --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScopedStaff(RowWith[StaffAccount]):
    """A staff account with the code of its scope unit (`StaffOut`)."""

    scope_code: str


async def _get_staff(session: AsyncSession, principal: Principal, staff_id: int) -> tuple[StaffAccount, OrgUnit]:
    staff = await session.get(StaffAccount, staff_id)
    missing = StaffNotFound(f"No staff account {staff_id}")
    return await in_scope(session, principal, staff, lambda s: s.scope_unit_id, missing)


async def get_staff(session: AsyncSession, principal: Principal, staff_id: int) -> ScopedStaff:
    staff, scope = await _get_staff(session, principal, staff_id)
    return ScopedStaff(staff, scope.code)


async def list_staff(
    session: AsyncSession, principal: Principal, *, role: str | None, cursor: str | None, limit: int
) -> Rows[ScopedStaff]:
    stmt = (
        select(StaffAccount, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == StaffAccount.scope_unit_id)
        .where(OrgUnit.path.startswith(principal.scope_path, autoescape=True))
    )
    if role:
        stmt = stmt.where(StaffAccount.role == role)
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(StaffAccount.id > after)
    rows = list(await session.execute(stmt.order_by(StaffAccount.id).limit(limit)))
    return Rows([ScopedStaff(s, c) for s, c in rows], next_cursor([s.id for s, _ in rows], limit))


async def create_staff(session: AsyncSession, principal: Principal, data: StaffCreate) -> ScopedStaff:
    scope = await get_unit(session, principal, data.scope_code)
    if await session.scalar(select(StaffAccount.id).where(StaffAccount.username == data.username)) is not None:
        raise DuplicateCode(f"Username {data.username!r} is taken", errors=[field_error("username", "taken")])
    staff = StaffAccount(
        username=data.username,
        display_name=data.display_name,
        password_hash=await asyncio.to_thread(hash_password, data.password),
        role=data.role,
        scope_unit_id=scope.id,
    )
    session.add(staff)
    await session.flush()
    after = audit.snapshot(staff, STAFF_AUDIT_FIELDS) | {"scope_code": scope.code}
    await audit.record(session, principal, "staff.created", "staff", staff.id, after=after)
    return ScopedStaff(staff, scope.code)


async def update_staff(
    session: AsyncSession, principal: Principal, staff_id: int, data: StaffUpdate, if_match: int | None
) -> ScopedStaff:
    staff, scope = await _get_staff(session, principal, staff_id)
    check_version(staff.version, data.version or if_match)
    before = audit.snapshot(staff, STAFF_AUDIT_FIELDS) | {"scope_code": scope.code}
    if data.scope_code is not None:
        scope = await get_unit(session, principal, data.scope_code)
        staff.scope_unit_id = scope.id
    if data.display_name is not None:
        staff.display_name = data.display_name
    if data.password is not None:
        staff.password_hash = await asyncio.to_thread(hash_password, data.password)
    if data.role is not None:
        staff.role = data.role
    if data.active is not None:
        staff.active = data.active
    staff.version += 1
    await session.flush()
    after = audit.snapshot(staff, STAFF_AUDIT_FIELDS) | {"scope_code": scope.code}
    if data.password is not None:
        after["password"] = audit.REDACTED  # that it changed, never what to
    await audit.record(
        session, principal, _staff_action(before, after), "staff", staff.id, **audit_changes(before, after)
    )
    return ScopedStaff(staff, scope.code)


def _staff_action(before: dict[str, Any], after: dict[str, Any]) -> str:
    """`staff.deactivated`, `staff.reactivated`, `staff.role_changed` or `staff.updated`."""
    if before.get("active") and not after.get("active"):
        return "staff.deactivated"
    if not before.get("active") and after.get("active"):
        return "staff.reactivated"
    if before.get("role") != after.get("role"):
        return "staff.role_changed"
    return "staff.updated"


# ---- API keys --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedKey(RowWith[ApiKey]):
    """A new API key's row with the key itself, which only this answer carries (`ApiKeyCreated`)."""

    key: str


async def create_api_key(session: AsyncSession, principal: Principal, data: ApiKeyCreate) -> IssuedKey:
    require_city_admin(principal)
    new = generate_api_key()
    record = ApiKey(
        name=data.name,
        prefix=new.prefix,
        secret_hash=new.secret_hash,
        channels=list(data.channels),
        rights=list(data.rights),
        created_by_id=principal.id if principal.is_staff else None,
    )
    session.add(record)
    await session.flush()
    await session.refresh(record)
    await audit.record(
        session, principal, "api_key.created", "api_key", record.id, after=audit.snapshot(record, API_KEY_AUDIT_FIELDS)
    )
    return IssuedKey(record, new.key)


async def list_api_keys(session: AsyncSession, principal: Principal) -> list[ApiKey]:
    require_city_admin(principal)
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))


async def revoke_api_key(session: AsyncSession, principal: Principal, key_id: int) -> ApiKey:
    require_city_admin(principal)
    record = await session.get(ApiKey, key_id)
    if record is None:
        raise ApiKeyNotFound(f"No API key {key_id}")
    if record.revoked_at is None:
        record.revoked_at = datetime.now(UTC)
        after = audit.snapshot(record, API_KEY_AUDIT_FIELDS)
        await audit.record(session, principal, "api_key.revoked", "api_key", record.id, after=after)
    await session.flush()
    forget_api_keys()
    return record


async def resolve_principal(session: AsyncSession, creds: Credentials) -> Principal:
    """Turn a bearer token or an API key into the caller's principal."""
    settings = get_settings()
    if creds.bearer is not None:
        claims = decode_access_token(
            creds.bearer, secret=settings.secret_key.get_secret_value(), issuer=settings.jwt_issuer
        )
        try:
            staff_id = int(claims["sub"])
        except (TypeError, ValueError) as exc:
            raise NotAuthenticated("The access token is invalid") from exc
        if not 0 < staff_id < 2**63:
            raise NotAuthenticated("The access token is invalid")
        return await staff_principal(session, staff_id)
    assert creds.api_key is not None
    return await api_key_principal(session, creds.api_key)


def issue_token(staff: StaffAccount) -> tuple[str, int]:
    settings = get_settings()
    return issue_access_token(
        secret=settings.secret_key.get_secret_value(),
        issuer=settings.jwt_issuer,
        ttl_seconds=settings.jwt_ttl_seconds,
        staff_id=staff.id,
        role=staff.role,
    )

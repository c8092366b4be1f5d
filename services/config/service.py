"""The rule settings in force: read (cached briefly in each process), changed by city administrators.

Applied without a restart. Every reader (intake, the SLA arithmetic, the sweep, the hot-spot scan) calls
`current(session)`, which answers from a per-process cache for at most `CACHE_SECONDS` (5 s) and then
reads the one row again (a primary-key lookup). So a change applies at once in the process that made it
(its cache is dropped when the change is made and again after the commit) and within 5 s in every other
API replica and worker. The intake hot path thus pays one small query per process every 5 s, not one per
request. Caches built on the settings (the SLA calendar) key themselves on `Snapshot.version`.
"""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.config.schemas import RuleSettings, RuleSettingsOut, changes, merge
from services.models import RuleSettingsRow
from shared.auth import Principal, actor_of, require_city_admin
from shared.db import after_commit
from shared.errors import InvalidInput, check_version, field_error

logger = logging.getLogger("minqing.config")

CACHE_SECONDS: Final = 5.0
ROW_ID: Final = 1
AUDIT_TARGET: Final = ("settings", "rules")


@dataclass(frozen=True, slots=True)
class Change:
    """What a write did: the settings now in force, and the groups whose values changed (none: no-op)."""

    snapshot: "Snapshot"
    changed: frozenset[str]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The settings in force and their version (1: the defaults, never changed)."""

    version: int
    rules: RuleSettings
    updated_at: datetime | None = None
    updated_by: str | None = None

    def out(self) -> RuleSettingsOut:
        return RuleSettingsOut(
            version=self.version, updated_at=self.updated_at, updated_by=self.updated_by, rules=self.rules
        )


DEFAULTS: Final = Snapshot(version=1, rules=RuleSettings())
_cache: list[tuple[float, Snapshot]] = []


def invalidate() -> None:
    """Forget the cached settings in this process (the next read goes to the database)."""
    _cache.clear()


async def _invalidate_after_commit() -> None:
    invalidate()


def parse(data: dict[str, Any]) -> RuleSettings:
    """A stored document as settings. Fields this code no longer knows are ignored; a group that no longer
    validates (a limit tightened since it was stored) falls back to its defaults, logged as an error, so a
    stored document can never stop the platform."""
    groups: dict[str, Any] = {}
    for name, field in RuleSettings.model_fields.items():
        stored = data.get(name)
        group_type = field.annotation
        if not isinstance(stored, dict) or not (isinstance(group_type, type) and issubclass(group_type, BaseModel)):
            continue
        known = {k: v for k, v in stored.items() if k in group_type.model_fields}
        try:
            groups[name] = group_type.model_validate(known)
        except ValidationError:
            logger.error("rule settings: stored group %r is invalid; its defaults apply", name, exc_info=True)
    return RuleSettings(**groups)


async def _load(session: AsyncSession) -> Snapshot:
    row = (
        await session.execute(
            select(
                RuleSettingsRow.data, RuleSettingsRow.version, RuleSettingsRow.updated_at, RuleSettingsRow.updated_by
            ).where(RuleSettingsRow.id == ROW_ID)
        )
    ).first()
    if row is None:
        return DEFAULTS
    data, version, updated_at, updated_by = row
    if _cache and _cache[0][1].version == version:
        return _cache[0][1]  # unchanged: no need to parse it again
    # A row nobody changed yet (made by a change that changed nothing) still holds the defaults.
    changed_at = updated_at if updated_by else None
    return Snapshot(version=version, rules=parse(data), updated_at=changed_at, updated_by=updated_by)


async def snapshot(session: AsyncSession, *, fresh: bool = False) -> Snapshot:
    """The settings in force with their version, from this process's cache when it is at most 5 s old."""
    now = time.monotonic()
    if not fresh and _cache and now - _cache[0][0] < CACHE_SECONDS:
        return _cache[0][1]
    loaded = await _load(session)
    _cache[:] = [(now, loaded)]
    return loaded


async def current(session: AsyncSession) -> RuleSettings:
    """The rule settings in force (see the module's note on how fresh they are)."""
    return (await snapshot(session)).rules


async def replace(session: AsyncSession, principal: Principal, rules: RuleSettings, if_match: int | None) -> Change:
    """Put a whole settings document in force (fields left out take their defaults); city admins only."""
    return await _write(session, principal, rules, if_match)


async def update(session: AsyncSession, principal: Principal, patch: RuleSettings, if_match: int | None) -> Change:
    """Change only the fields `patch` was given (a JSON merge patch); city admins only."""
    require_city_admin(principal)
    row = await _locked_row(session)
    try:
        merged = RuleSettings.model_validate(merge(parse(row.data), patch))
    except ValidationError as exc:
        errors = [field_error(["body", *e["loc"]], e["msg"]) for e in exc.errors()]
        raise InvalidInput("The settings are not valid", errors=errors) from exc
    return await _write(session, principal, merged, if_match, row=row)


async def _locked_row(session: AsyncSession) -> RuleSettingsRow:
    """The settings row, locked for the change (made first, holding the defaults, when it does not exist)."""
    await session.execute(
        pg_insert(RuleSettingsRow).values(id=ROW_ID, data={}, version=1).on_conflict_do_nothing(index_elements=["id"])
    )
    row = await session.get(RuleSettingsRow, ROW_ID, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


async def _write(
    session: AsyncSession,
    principal: Principal,
    rules: RuleSettings,
    if_match: int | None,
    *,
    row: RuleSettingsRow | None = None,
) -> Change:
    require_city_admin(principal)
    if row is None:
        row = await _locked_row(session)
    check_version(row.version, if_match)
    previous = parse(row.data)
    before = previous.model_dump(mode="json")
    after = rules.model_dump(mode="json")
    old, new = changes(before, after)
    if old or new:
        row.data = after
        row.version += 1
        row.updated_at = datetime.now(UTC)
        row.updated_by = actor_of(principal)
        await session.flush()
        await audit.record(
            session,
            principal,
            "settings.updated",
            *AUDIT_TARGET,
            before={**old, "version": row.version - 1},
            after={**new, "version": row.version},
        )
        invalidate()
        after_commit(session, _invalidate_after_commit)
    stored = row.updated_at if row.updated_by else None
    written = Snapshot(version=row.version, rules=rules, updated_at=stored, updated_by=row.updated_by)
    return Change(written, frozenset(name for name in RuleSettings.model_fields if name in new))

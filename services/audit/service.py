"""The administration audit trail (SPEC §12): every administrative act, who did it, when, and what changed.

`record` adds an entry to the caller's unit of work, so the entry commits with the change it describes and
vanishes with it when the change is rolled back. `record_detached` writes in a short transaction of its
own, for what must be kept although the caller's work fails (a failed login answers 401, and its unit of
work rolls back).

Secrets never reach the trail: `redact` replaces the value of every key that names a secret or a
citizen's data (passwords and their hashes, API keys and their hashes, webhook secrets, tokens, phones,
…) with `***` (so the trail still shows *that* a password changed), and callers pass explicit field lists
(`snapshot`) rather than whole rows. The table is append-only: a trigger refuses UPDATE and DELETE.
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypedDict

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.auth import READERS
from services.audit.schemas import AuditEntryOut
from services.models import AdminAuditEntry
from shared.auth import Principal, actor_of
from shared.db import unit_of_work
from shared.errors import Forbidden
from shared.logging import request_id_var
from shared.pagination import Page, decode_cursor, next_cursor

logger = logging.getLogger("minqing.audit")

REDACTED = "***"
ANONYMOUS = "anonymous"
# A key naming any of these (case-insensitive, as a part of the name) has its value replaced by `***`.
_SECRET_PARTS = ("password", "secret", "hash", "token", "credential", "phone", "citizen", "pii")
# … and these whole names (`key`: an API key in clear; `name` is not here: staff and unit names are not secret).
_SECRET_NAMES = frozenset({"key", "keys", "api_key", "x-api-key"})
_MAX_TEXT = 100


def is_secret(key: str) -> bool:
    lowered = key.lower()
    return lowered in _SECRET_NAMES or any(part in lowered for part in _SECRET_PARTS)


def redact(value: Any) -> Any:
    """`value` as JSON, with the values of secret-named keys replaced by `***` at any depth."""
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if v is not None else None) if is_secret(str(k)) else redact(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    return to_jsonable_python(value, fallback=str)


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of an object (an ORM row, a schema) as JSON: an explicit allow-list of what to keep."""
    kept: dict[str, Any] = redact({name: getattr(obj, name, None) for name in fields})
    return kept


class Changes(TypedDict):
    before: dict[str, Any]
    after: dict[str, Any]


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> Changes:
    """Only the fields that differ between two snapshots, as `record`'s `before` and `after` arguments
    (`record(..., **changes(old, new))`)."""
    differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return {"before": {k: before.get(k) for k in differ}, "after": {k: after.get(k) for k in differ}}


def _actor(actor: Principal | str, actor_name: str | None) -> tuple[str, str | None, str | None]:
    if isinstance(actor, Principal):
        return actor_of(actor), actor.name[:_MAX_TEXT], actor.scope_path
    return actor[:64], actor_name[:_MAX_TEXT] if actor_name else None, None


def _entry(
    actor: Principal | str,
    action: str,
    target_kind: str,
    target_id: object,
    *,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    actor_name: str | None,
    client_ip: str | None,
) -> AdminAuditEntry:
    who, name, scope = _actor(actor, actor_name)
    return AdminAuditEntry(
        actor=who,
        actor_name=name,
        actor_scope=scope,
        action=action,
        target_kind=target_kind,
        target_id=None if target_id is None else str(target_id)[:_MAX_TEXT],
        before=None if before is None else redact(before),
        after=None if after is None else redact(after),
        client_ip=client_ip[:64] if client_ip else None,
        request_id=(request_id_var.get() or None),
    )


async def record(
    session: AsyncSession,
    actor: Principal | str,
    action: str,
    target_kind: str,
    target_id: object = None,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor_name: str | None = None,
    client_ip: str | None = None,
) -> None:
    """Add an entry to the session's unit of work (written with its next flush or commit).

    `actor`: the principal who acted, or an actor string (`system:<what>`, `anonymous`) with `actor_name`.
    `before` / `after`: the fields that describe the object (pass an allow-list, see `snapshot`); secret
    keys are redacted again here whatever the caller passes.
    """
    session.add(
        _entry(
            actor,
            action,
            target_kind,
            target_id,
            before=before,
            after=after,
            actor_name=actor_name,
            client_ip=client_ip,
        )
    )


async def record_detached(
    actor: Principal | str,
    action: str,
    target_kind: str,
    target_id: object = None,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor_name: str | None = None,
    client_ip: str | None = None,
) -> None:
    """Write an entry in a short transaction of its own, kept whatever becomes of the caller's (a failed
    login). A failure to write is logged, never raised: it must not replace the caller's own answer."""
    entry = _entry(
        actor, action, target_kind, target_id, before=before, after=after, actor_name=actor_name, client_ip=client_ip
    )
    try:
        async with unit_of_work() as session:
            session.add(entry)
    except (SQLAlchemyError, OSError):
        logger.exception("audit: could not record %s", action)


def _city_wide(principal: Principal) -> bool:
    return principal.scope_path.count("/") == 2


async def list_entries(
    session: AsyncSession,
    principal: Principal,
    *,
    action: str | None = None,
    actor: str | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int,
) -> Page[AuditEntryOut]:
    """The trail, newest first, cursor-paged. Readers scoped to the whole city see every entry; others the
    acts of accounts scoped inside their own subtree (not anonymous ones, not the integrations')."""
    if not principal.is_staff or principal.role not in READERS:
        raise Forbidden("The audit trail is for admins and auditors")
    stmt = select(AdminAuditEntry)
    if not _city_wide(principal):
        stmt = stmt.where(AdminAuditEntry.actor_scope.startswith(principal.scope_path, autoescape=True))
    if action:
        stmt = stmt.where(AdminAuditEntry.action.startswith(action, autoescape=True))
    if actor:
        stmt = stmt.where(AdminAuditEntry.actor == actor)
    if target_kind:
        stmt = stmt.where(AdminAuditEntry.target_kind == target_kind)
    if target_id:
        stmt = stmt.where(AdminAuditEntry.target_id == target_id)
    if since is not None:
        stmt = stmt.where(AdminAuditEntry.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AdminAuditEntry.occurred_at < until)
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(AdminAuditEntry.id < after)
    rows = list(await session.scalars(stmt.order_by(AdminAuditEntry.id.desc()).limit(limit)))
    return Page(
        items=[AuditEntryOut.model_validate(r) for r in rows], next_cursor=next_cursor([r.id for r in rows], limit)
    )

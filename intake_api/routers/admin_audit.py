"""The administration audit trail (SPEC §12): logins, staff, roles, API keys, rules, SLA policies, settings,
calendar and appeal decisions, who did them and what changed."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from intake_api.deps import current_principal
from services.audit import service
from services.audit.auth import READERS
from services.audit.schemas import AuditEntryOut
from shared.auth import Principal
from shared.deps import SessionDep, require_roles
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.schemas import CITY_TIME_NOTE, CityDateTime
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/admin/audit", tags=["admin: audit"])
Reader = Annotated[Principal, Depends(require_roles(current_principal, *sorted(READERS)))]

ActionQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[a-z_]+(\.[a-z_]*)?$",
        description="Only actions starting with this (`login.`, `staff`, `settings.updated`)",
        examples=["login."],
    ),
]
ActorQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^(staff:[0-9]+|key:[0-9]+|system:[a-z_]+|anonymous)$",
        description="Only this actor",
        examples=["staff:1"],
    ),
]
TargetKindQuery = Annotated[
    str | None, Query(max_length=32, pattern=r"^[a-z_]+$", description="Only this kind of object", examples=["staff"])
]
TargetIdQuery = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=r"^[\w.:\-]+$",
        description="Only this object (its id or code, with `target_kind`)",
        examples=["12"],
    ),
]
Since = Annotated[
    CityDateTime | None,
    Query(description=f"Only entries at or after this time. {CITY_TIME_NOTE}", examples=["2026-12-01T00:00:00+08:00"]),
]
Until = Annotated[
    CityDateTime | None,
    Query(description=f"Only entries before this time. {CITY_TIME_NOTE}", examples=["2026-12-05T00:00:00+08:00"]),
]


@router.get("", response_model=Page[AuditEntryOut], responses=problem_responses(401, 403, 422))
async def list_audit(
    session: SessionDep,
    principal: Reader,
    action: ActionQuery = None,
    actor: ActorQuery = None,
    target_kind: TargetKindQuery = None,
    target_id: TargetIdQuery = None,
    since: Since = None,
    until: Until = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AuditEntryOut]:
    """The admin audit trail, newest first; admins and auditors.

    Readers scoped to the whole city see every entry; others see the acts of accounts scoped inside
    their own subtree. Entries are never changed or removed; secrets (passwords, key material, webhook
    secrets) never appear in them (a changed password shows as `***`).
    """
    return await service.list_entries(
        session,
        principal,
        action=action,
        actor=actor,
        target_kind=target_kind,
        target_id=target_id,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )

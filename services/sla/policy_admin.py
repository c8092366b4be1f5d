"""SLA policies kept by admins: response and resolution deadlines per category prefix and priority."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.models import SlaPolicy
from services.org import repository as repo
from services.org.errors import (
    DuplicateCode,
)
from services.sla import service as sla_service
from services.sla.errors import SlaPolicyNotFound
from services.sla.schemas import SlaPolicyCreate, SlaPolicyUpdate
from shared.auth import Principal, require_city_admin
from shared.errors import check_version, field_error

POLICY_AUDIT_FIELDS = (
    "name",
    "category_prefix",
    "priority",
    "respond_amount",
    "respond_unit",
    "resolve_amount",
    "resolve_unit",
    "version",
)


async def list_sla_policies(session: AsyncSession) -> list[SlaPolicy]:
    return list(await session.scalars(select(SlaPolicy).order_by(SlaPolicy.category_prefix, SlaPolicy.priority)))


async def create_sla_policy(session: AsyncSession, principal: Principal, data: SlaPolicyCreate) -> SlaPolicy:
    require_city_admin(principal)
    exists = await session.scalar(
        select(SlaPolicy.id).where(
            SlaPolicy.category_prefix == data.category_prefix,
            SlaPolicy.priority.is_(None) if data.priority is None else SlaPolicy.priority == data.priority,
        )
    )
    if exists is not None:
        raise DuplicateCode(
            f"Policy {exists} already covers {data.category_prefix!r} / {data.priority or 'any priority'}",
            errors=[field_error("category_prefix", "a policy for this category and priority exists")],
        )
    policy = SlaPolicy(**data.model_dump())
    session.add(policy)
    await session.flush()
    after = audit.snapshot(policy, POLICY_AUDIT_FIELDS)
    await audit.record(session, principal, "sla_policy.created", "sla_policy", policy.id, after=after)
    sla_service.invalidate()
    return policy


async def update_sla_policy(
    session: AsyncSession, principal: Principal, policy_id: int, data: SlaPolicyUpdate, if_match: int | None
) -> SlaPolicy:
    require_city_admin(principal)
    policy = await repo.sla_policy_by_id(session, policy_id)
    if policy is None:
        raise SlaPolicyNotFound(f"No SLA policy {policy_id}")
    check_version(policy.version, data.version or if_match)
    before = audit.snapshot(policy, POLICY_AUDIT_FIELDS)
    for field, value in data.model_dump(exclude={"version"}, exclude_none=True).items():
        setattr(policy, field, value)
    policy.version += 1
    await session.flush()
    changed = audit.changes(before, audit.snapshot(policy, POLICY_AUDIT_FIELDS))
    await audit.record(session, principal, "sla_policy.updated", "sla_policy", policy.id, **changed)
    sla_service.invalidate()
    return policy


async def delete_sla_policy(session: AsyncSession, principal: Principal, policy_id: int) -> None:
    require_city_admin(principal)
    policy = await repo.sla_policy_by_id(session, policy_id)
    if policy is None:
        raise SlaPolicyNotFound(f"No SLA policy {policy_id}")
    before = audit.snapshot(policy, POLICY_AUDIT_FIELDS)
    await session.delete(policy)
    await session.flush()
    await audit.record(session, principal, "sla_policy.deleted", "sla_policy", policy_id, before=before)
    sla_service.invalidate()

"""The responsibility matrix (职责清单) kept by admins: rows (category prefix, org unit) → handling unit."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.models import OrgUnit, ResponsibilityRule
from services.org import repository as repo
from services.org.errors import (
    DuplicateCode,
)
from services.org.service import get_unit
from services.routing.errors import RuleNotFound
from services.routing.schemas import RuleCreate
from shared.auth import Principal
from shared.errors import InvalidInput, field_error
from shared.views import RowWith

RULE_AUDIT_FIELDS = ("category_prefix", "org_unit_id", "handler_kind", "lead_department_id", "co_department_ids")


@dataclass(frozen=True, slots=True)
class RuleView(RowWith[ResponsibilityRule]):
    """A rule with the codes of its org unit and departments in place of their ids (`RuleOut`)."""

    org_unit_code: str
    lead_department_code: str | None
    co_department_codes: list[str]


async def _rule_view(session: AsyncSession, rule: ResponsibilityRule, unit_code: str | None = None) -> RuleView:
    if unit_code is None:
        unit_code = (await repo.codes_of_units(session, {rule.org_unit_id}))[rule.org_unit_id]
    ids = {*rule.co_department_ids, *([rule.lead_department_id] if rule.lead_department_id else [])}
    codes = await repo.department_codes(session, ids)
    lead = codes.get(rule.lead_department_id) if rule.lead_department_id else None
    return RuleView(rule, unit_code, lead, [codes[i] for i in rule.co_department_ids])


async def list_rules(session: AsyncSession, principal: Principal, *, under_code: str | None) -> list[RuleView]:
    scope_path = principal.scope_path
    if under_code is not None:
        scope_path = (await get_unit(session, principal, under_code)).path
    rows = await session.execute(
        select(ResponsibilityRule, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == ResponsibilityRule.org_unit_id)
        .where(OrgUnit.path.startswith(scope_path, autoescape=True))
        .order_by(ResponsibilityRule.id)
    )
    return [await _rule_view(session, rule, code) for rule, code in rows]


async def get_rule(session: AsyncSession, principal: Principal, rule_id: int) -> RuleView:
    rule = await repo.rule_by_id(session, rule_id)
    if rule is not None:
        path = (await repo.paths_of_units(session, {rule.org_unit_id}))[rule.org_unit_id]
        if principal.covers(path):
            return await _rule_view(session, rule)
    raise RuleNotFound(f"No responsibility rule {rule_id}")


async def create_rule(session: AsyncSession, principal: Principal, data: RuleCreate) -> RuleView:
    unit = await get_unit(session, principal, data.org_unit_code)
    if data.category_prefix != "*" and await repo.count_categories_with_prefix(session, data.category_prefix) == 0:
        raise InvalidInput(
            f"No category matches {data.category_prefix!r}",
            errors=[field_error("category_prefix", "matches no category")],
        )
    wanted = [c for c in [data.lead_department_code, *data.co_department_codes] if c]
    departments = await repo.departments_by_codes(session, wanted)
    for index, code in enumerate(wanted):
        loc: list[str | int] = ["lead_department_code"] if index == 0 else ["co_department_codes", index - 1]
        if code not in departments:
            raise InvalidInput(f"No department {code!r}", errors=[field_error(loc, "unknown department")])
    duplicate = await session.scalar(
        select(ResponsibilityRule.id).where(
            ResponsibilityRule.category_prefix == data.category_prefix, ResponsibilityRule.org_unit_id == unit.id
        )
    )
    if duplicate is not None:
        raise DuplicateCode(
            f"Rule {duplicate} already covers {data.category_prefix!r} at {unit.code!r}; rules may not tie",
            errors=[field_error("category_prefix", "a rule for this category and unit exists")],
        )
    rule = ResponsibilityRule(
        category_prefix=data.category_prefix,
        org_unit_id=unit.id,
        handler_kind=data.handler_kind,
        lead_department_id=departments[data.lead_department_code].id if data.lead_department_code else None,
        co_department_ids=[departments[c].id for c in data.co_department_codes],
    )
    session.add(rule)
    await session.flush()
    described = data.model_dump(mode="json")
    await audit.record(session, principal, "rule.created", "responsibility_rule", rule.id, after=described)
    return await _rule_view(session, rule, unit.code)


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: int) -> None:
    await get_rule(session, principal, rule_id)
    rule = await repo.rule_by_id(session, rule_id)
    before = audit.snapshot(rule, RULE_AUDIT_FIELDS)
    await session.delete(rule)
    await session.flush()
    await audit.record(session, principal, "rule.deleted", "responsibility_rule", rule_id, before=before)

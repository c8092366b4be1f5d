"""Leaders' links to units and departments (逐级联系、全面覆盖), with their contact quotas."""

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.models import Department, LeaderLink, OrgUnit, StaffAccount
from services.org import repository as repo
from services.org.errors import DuplicateCode
from services.org.service import get_department, get_unit
from services.routing.errors import LeaderLinkNotFound
from shared.auth import Principal
from shared.errors import InvalidInput, field_error
from shared.schemas import SafeText, StrictInput
from shared.views import RowWith

Quota = Annotated[int, Field(ge=0, le=10_000)]


class LeaderLinkCreate(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "leader_username": "leader_haishu",
                    "post": "区委书记",
                    "org_unit_code": "330203001",
                    "quota_month": 1,
                    "quota_quarter": 3,
                    "quota_year": 12,
                }
            ]
        },
    )

    leader_username: Annotated[SafeText, Field(min_length=1, max_length=64)]
    post: Annotated[SafeText, Field(min_length=1, max_length=100, description="职务, e.g. 区委书记")]
    org_unit_code: Annotated[SafeText | None, Field(max_length=32)] = None
    department_code: Annotated[SafeText | None, Field(max_length=32)] = None
    quota_month: Quota = 0
    quota_quarter: Quota = 0
    quota_year: Quota = 0

    @model_validator(mode="after")
    def _one_target(self) -> "LeaderLinkCreate":
        if (self.org_unit_code is None) == (self.department_code is None):
            raise ValueError("give exactly one of org_unit_code, department_code")
        return self


class LeaderLinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    leader_id: int
    leader_username: str
    post: str
    org_unit_code: str | None
    department_code: str | None
    quota_month: int
    quota_quarter: int
    quota_year: int


@dataclass(frozen=True, slots=True)
class LinkView(RowWith[LeaderLink]):
    """A leader's link with the leader's username and the code of the unit or department (`LeaderLinkOut`)."""

    leader_username: str
    org_unit_code: str | None
    department_code: str | None

    @classmethod
    def of(
        cls, link: LeaderLink, leader: StaffAccount, unit: OrgUnit | None, department: Department | None
    ) -> "LinkView":
        return cls(link, leader.username, unit.code if unit else None, department.code if department else None)


LINK_AUDIT_FIELDS = (
    "leader_id",
    "post",
    "org_unit_id",
    "department_id",
    "quota_month",
    "quota_quarter",
    "quota_year",
)


async def create_link(session: AsyncSession, principal: Principal, data: LeaderLinkCreate) -> LinkView:
    leader = await session.scalar(select(StaffAccount).where(StaffAccount.username == data.leader_username))
    if leader is None:
        raise InvalidInput("No such staff account", errors=[field_error("leader_username", "unknown staff account")])
    unit = await get_unit(session, principal, data.org_unit_code) if data.org_unit_code else None
    department = (await get_department(session, principal, data.department_code))[0] if data.department_code else None
    target = (
        LeaderLink.org_unit_id == unit.id
        if unit is not None
        else LeaderLink.department_id == (department.id if department else None)
    )
    if await session.scalar(select(LeaderLink.id).where(LeaderLink.leader_id == leader.id).where(target)) is not None:
        raise DuplicateCode("This leader is already linked there", errors=[field_error("leader_username", "linked")])
    link = LeaderLink(
        leader_id=leader.id,
        post=data.post,
        org_unit_id=unit.id if unit else None,
        department_id=department.id if department else None,
        quota_month=data.quota_month,
        quota_quarter=data.quota_quarter,
        quota_year=data.quota_year,
    )
    session.add(link)
    await session.flush()
    described = data.model_dump(mode="json")
    await audit.record(session, principal, "leader_link.created", "leader_link", link.id, after=described)
    return LinkView.of(link, leader, unit, department)


async def list_links(session: AsyncSession, principal: Principal) -> list[LinkView]:
    """Links whose unit (or department's unit) lies in the caller's subtree."""
    rows = (
        await session.execute(
            select(LeaderLink, StaffAccount, OrgUnit, Department)
            .join(StaffAccount, StaffAccount.id == LeaderLink.leader_id)
            .outerjoin(OrgUnit, OrgUnit.id == LeaderLink.org_unit_id)
            .outerjoin(Department, Department.id == LeaderLink.department_id)
            .order_by(LeaderLink.id)
        )
    ).all()
    scopes = await repo.paths_of_units(session, {d.scope_unit_id for _, _, _, d in rows if d is not None})
    out = []
    for link, leader, unit, department in rows:
        path = unit.path if unit else scopes.get(department.scope_unit_id, "") if department else ""
        if principal.covers(path):
            out.append(LinkView.of(link, leader, unit, department))
    return out


async def delete_link(session: AsyncSession, principal: Principal, link_id: int) -> None:
    visible = {link.id for link in await list_links(session, principal)}
    link = await session.get(LeaderLink, link_id)
    if link is None or link_id not in visible:
        raise LeaderLinkNotFound(f"No leader link {link_id}")
    before = audit.snapshot(link, LINK_AUDIT_FIELDS)
    await session.delete(link)
    await session.flush()
    await audit.record(session, principal, "leader_link.deleted", "leader_link", link_id, before=before)

"""Admin: the service catalog, the responsibility matrix and SLA policies."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from intake_api.deps import AdminPrincipal
from services.models import Category, SlaPolicy
from services.org import service
from services.org.schemas import (
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    Code,
)
from services.routing import rules
from services.routing.rules import RuleView
from services.routing.schemas import RuleCreate, RuleOut
from services.sla import policy_admin
from services.sla.schemas import SlaPolicyCreate, SlaPolicyOut, SlaPolicyUpdate
from shared.deps import IfMatch, SessionDep
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/admin", tags=["admin: configuration"])
Id = Annotated[int, Path(ge=1, le=2**62)]
CategoryPath = Annotated[str, Path(max_length=64, examples=["env.noise"])]
READ = problem_responses(401, 403, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422, 428)


@router.get("/categories", response_model=list[CategoryOut], responses=READ)
async def list_categories(session: SessionDep, principal: AdminPrincipal) -> list[Category]:
    """List every category, inactive ones included."""
    return await service.list_categories(session, include_inactive=True)


@router.post("/categories", status_code=status.HTTP_201_CREATED, response_model=CategoryOut, responses=WRITE)
async def create_category(session: SessionDep, principal: AdminPrincipal, body: CategoryCreate) -> Category:
    """Add a category (its parent must exist); city administrators only."""
    return await service.create_category(session, principal, body)


@router.patch("/categories/{code}", response_model=CategoryOut, responses=WRITE)
async def update_category(
    session: SessionDep, principal: AdminPrincipal, code: CategoryPath, body: CategoryUpdate, if_match: IfMatch
) -> Category:
    """Change a category's names, priority, key-group flag, attributes or activity."""
    return await service.update_category(session, principal, code, body, if_match)


@router.get("/responsibility-rules", response_model=list[RuleOut], responses=READ)
async def list_rules(
    session: SessionDep,
    principal: AdminPrincipal,
    under_code: Annotated[Code | None, Query(description="Only rules at or under this unit")] = None,
) -> list[RuleView]:
    """List the responsibility matrix rows in your scope."""
    return await rules.list_rules(session, principal, under_code=under_code)


@router.post("/responsibility-rules", status_code=status.HTTP_201_CREATED, response_model=RuleOut, responses=WRITE)
async def create_rule(session: SessionDep, principal: AdminPrincipal, body: RuleCreate) -> RuleView:
    """Add a matrix row; a row equal to an existing one on category and unit is refused (409)."""
    return await rules.create_rule(session, principal, body)


@router.get("/responsibility-rules/{rule_id}", response_model=RuleOut, responses=READ)
async def get_rule(session: SessionDep, principal: AdminPrincipal, rule_id: Id) -> RuleView:
    """Read one matrix row."""
    return await rules.get_rule(session, principal, rule_id)


@router.delete("/responsibility-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE)
async def delete_rule(session: SessionDep, principal: AdminPrincipal, rule_id: Id) -> Response:
    """Remove a matrix row."""
    await rules.delete_rule(session, principal, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/sla-policies", response_model=list[SlaPolicyOut], responses=READ)
async def list_sla_policies(session: SessionDep, principal: AdminPrincipal) -> list[SlaPolicy]:
    """List SLA policies."""
    return await policy_admin.list_sla_policies(session)


@router.post("/sla-policies", status_code=status.HTTP_201_CREATED, response_model=SlaPolicyOut, responses=WRITE)
async def create_sla_policy(session: SessionDep, principal: AdminPrincipal, body: SlaPolicyCreate) -> SlaPolicy:
    """Add an SLA policy for a category prefix and priority (`null`: any priority)."""
    return await policy_admin.create_sla_policy(session, principal, body)


@router.patch("/sla-policies/{policy_id}", response_model=SlaPolicyOut, responses=WRITE)
async def update_sla_policy(
    session: SessionDep, principal: AdminPrincipal, policy_id: Id, body: SlaPolicyUpdate, if_match: IfMatch
) -> SlaPolicy:
    """Change an SLA policy's deadlines."""
    return await policy_admin.update_sla_policy(session, principal, policy_id, body, if_match)


@router.delete("/sla-policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE)
async def delete_sla_policy(session: SessionDep, principal: AdminPrincipal, policy_id: Id) -> Response:
    """Remove an SLA policy."""
    await policy_admin.delete_sla_policy(session, principal, policy_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

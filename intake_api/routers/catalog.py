"""Read-only views any caller needs: the category catalog and org units in scope."""

from typing import Annotated

from fastapi import APIRouter, Path

from intake_api.deps import CurrentPrincipal, StaffPrincipal
from services.models import Category
from services.org import service
from services.org.schemas import CategoryOut, OrgUnitOut
from services.org.service import UnitView
from shared.deps import SessionDep
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.get("/categories", response_model=list[CategoryOut], responses=problem_responses(401))
async def list_categories(session: SessionDep, principal: CurrentPrincipal) -> list[Category]:
    """The active service catalog: codes, names, priorities and extra attributes."""
    return await service.list_categories(session)


@router.get("/org-units/{code}", response_model=OrgUnitOut, responses=problem_responses(401, 403, 404, 422))
async def get_org_unit(
    session: SessionDep,
    principal: StaffPrincipal,
    code: Annotated[str, Path(max_length=32, examples=["330203001"])],
) -> UnitView:
    """Read an org unit inside your scope (staff)."""
    return await service.unit_view(session, await service.get_unit(session, principal, code))

"""The staff directory: teams and departments in scope, their members, duty and open load (read-only)."""

from typing import Annotated

from fastapi import APIRouter, Query

from intake_api.deps import StaffPrincipal
from services.org import directory
from services.org.directory import DirectoryDepartment, DirectoryTeam
from shared.deps import SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/directory", tags=["directory"])
NameQuery = Annotated[str | None, Query(max_length=100, description="Part of the name (例如 “环境”)")]


@router.get("/teams", response_model=Page[DirectoryTeam], responses=problem_responses(401, 403, 404, 422))
async def list_directory_teams(
    session: SessionDep,
    principal: StaffPrincipal,
    org_unit_code: Annotated[
        str | None, Query(max_length=32, description="Only teams under this unit", examples=["330203001"])
    ] = None,
    q: NameQuery = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[directory.TeamEntry]:
    """Grid teams in your scope with their members (staff ids, roles, on duty) and open load, for choosing
    whom to hand a request to. Any staff role."""
    items, next_page = await directory.list_teams(
        session, principal, org_unit_code=org_unit_code, q=q, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_page)


@router.get("/departments", response_model=Page[DirectoryDepartment], responses=problem_responses(401, 403, 422))
async def list_directory_departments(
    session: SessionDep,
    principal: StaffPrincipal,
    q: NameQuery = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[directory.DepartmentEntry]:
    """Departments serving your area (city-wide and district bureaus above your scope, and those inside it),
    with their members and open load. Any staff role."""
    items, next_page = await directory.list_departments(session, principal, q=q, cursor=cursor, limit=limit)
    return Page(items=items, next_cursor=next_page)

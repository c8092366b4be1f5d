"""Admin: the org-unit tree, grid import, departments, teams and members."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from intake_api.deps import AdminPrincipal
from services.org import service
from services.org.schemas import (
    Code,
    DepartmentCreate,
    DepartmentOut,
    DepartmentUpdate,
    GridImport,
    GridImportResult,
    Level,
    MemberCreate,
    MemberOut,
    MemberUpdate,
    OrgUnitCreate,
    OrgUnitOut,
    OrgUnitUpdate,
    TeamCreate,
    TeamOut,
    TeamUpdate,
)
from services.org.service import DepartmentView, MemberView, TeamView, UnitView
from shared.deps import IfMatch, SessionDep
from shared.pagination import Page
from shared.params import DEFAULT_LIMIT, Cursor, Limit
from shared.views import Rows
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/admin", tags=["admin: organisation"])
UnitCode = Annotated[str, Path(max_length=32, description="Org unit code", examples=["330203001"])]
DeptCode = Annotated[str, Path(max_length=32, description="Department code", examples=["HB"])]
Id = Annotated[int, Path(ge=1, le=2**62)]
READ = problem_responses(401, 403, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422, 428)


@router.get("/org-units", response_model=Page[OrgUnitOut], responses=READ)
async def list_org_units(
    session: SessionDep,
    principal: AdminPrincipal,
    level: Level | None = None,
    parent_code: Annotated[Code | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search names and codes")] = None,
    with_geometry: bool = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Rows[UnitView]:
    """List org units in your scope, by level, parent or name."""
    return await service.list_units(
        session,
        principal,
        level=level,
        parent_code=parent_code,
        q=q,
        cursor=cursor,
        limit=limit,
        with_geometry=with_geometry,
    )


@router.post("/org-units", status_code=status.HTTP_201_CREATED, response_model=OrgUnitOut, responses=WRITE)
async def create_org_unit(session: SessionDep, principal: AdminPrincipal, body: OrgUnitCreate) -> UnitView:
    """Create an org unit under a parent in your scope (a grid needs its polygon)."""
    unit = await service.create_unit(session, principal, body)
    return await service.unit_view(session, unit)


@router.get("/org-units/{code}", response_model=OrgUnitOut, responses=READ)
async def get_org_unit(session: SessionDep, principal: AdminPrincipal, code: UnitCode) -> UnitView:
    """Read one org unit, with its polygon."""
    return await service.unit_view(session, await service.get_unit(session, principal, code))


@router.patch("/org-units/{code}", response_model=OrgUnitOut, responses=WRITE)
async def update_org_unit(
    session: SessionDep, principal: AdminPrincipal, code: UnitCode, body: OrgUnitUpdate, if_match: IfMatch
) -> UnitView:
    """Rename an org unit or replace its polygon (send the version you read)."""
    unit = await service.update_unit(session, principal, code, body, if_match)
    return await service.unit_view(session, unit)


@router.delete("/org-units/{code}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE)
async def delete_org_unit(session: SessionDep, principal: AdminPrincipal, code: UnitCode) -> Response:
    """Delete an org unit nothing refers to."""
    await service.delete_unit(session, principal, code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/grids/import", response_model=GridImportResult, responses=problem_responses(401, 403, 413, 422))
async def import_grids(session: SessionDep, principal: AdminPrincipal, body: GridImport) -> GridImportResult:
    """Import a GeoJSON FeatureCollection of grids: all features, or none when any is bad.

    Each feature's `properties` carry `code`, `name`, optional `name_en` and the community's
    `parent_code`. A grid whose code exists under the same community is replaced.
    """
    return await service.import_grids(session, principal, body)


@router.get("/departments", response_model=list[DepartmentOut], responses=READ)
async def list_departments(session: SessionDep, principal: AdminPrincipal) -> list[DepartmentView]:
    """List the departments serving units in your scope."""
    return await service.list_departments(session, principal)


@router.post("/departments", status_code=status.HTTP_201_CREATED, response_model=DepartmentOut, responses=WRITE)
async def create_department(session: SessionDep, principal: AdminPrincipal, body: DepartmentCreate) -> DepartmentView:
    """Create a department serving the city or a district."""
    return await service.create_department(session, principal, body)


@router.get("/departments/{code}", response_model=DepartmentOut, responses=READ)
async def get_department(session: SessionDep, principal: AdminPrincipal, code: DeptCode) -> DepartmentView:
    """Read one department."""
    return await service.read_department(session, principal, code)


@router.patch("/departments/{code}", response_model=DepartmentOut, responses=WRITE)
async def update_department(
    session: SessionDep, principal: AdminPrincipal, code: DeptCode, body: DepartmentUpdate, if_match: IfMatch
) -> DepartmentView:
    """Rename or deactivate a department."""
    return await service.update_department(session, principal, code, body, if_match)


@router.get("/departments/{code}/members", response_model=list[MemberOut], responses=READ)
async def list_department_members(session: SessionDep, principal: AdminPrincipal, code: DeptCode) -> list[MemberView]:
    """List a department's members."""
    return await service.list_department_members(session, principal, code)


@router.post(
    "/departments/{code}/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut, responses=WRITE
)
async def add_department_member(
    session: SessionDep, principal: AdminPrincipal, code: DeptCode, body: MemberCreate
) -> MemberView:
    """Add a staff account to a department (role `department_staff` or `specialist`)."""
    return await service.add_department_member(session, principal, code, body)


@router.get("/teams", response_model=Page[TeamOut], responses=READ)
async def list_teams(
    session: SessionDep,
    principal: AdminPrincipal,
    under_code: Annotated[Code | None, Query(description="Only teams of grids under this unit")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Rows[TeamView]:
    """List grid teams in your scope, with their members."""
    return await service.list_teams(session, principal, under_code=under_code, cursor=cursor, limit=limit)


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=TeamOut, responses=WRITE)
async def create_team(session: SessionDep, principal: AdminPrincipal, body: TeamCreate) -> TeamView:
    """Create a grid's service team (one per grid)."""
    return await service.create_team(session, principal, body)


@router.get("/teams/{team_id}", response_model=TeamOut, responses=READ)
async def get_team(session: SessionDep, principal: AdminPrincipal, team_id: Id) -> TeamView:
    """Read a team with its members and their duty."""
    return await service.read_team(session, principal, team_id)


@router.patch("/teams/{team_id}", response_model=TeamOut, responses=WRITE)
async def update_team(
    session: SessionDep, principal: AdminPrincipal, team_id: Id, body: TeamUpdate, if_match: IfMatch
) -> TeamView:
    """Rename a team."""
    return await service.update_team(session, principal, team_id, body, if_match)


@router.post("/teams/{team_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut, responses=WRITE)
async def add_team_member(
    session: SessionDep, principal: AdminPrincipal, team_id: Id, body: MemberCreate
) -> MemberView:
    """Add a staff account to a grid team with its role in the team."""
    return await service.add_team_member(session, principal, team_id, body)


@router.patch("/members/{member_id}", response_model=MemberOut, responses=WRITE)
async def update_member(
    session: SessionDep, principal: AdminPrincipal, member_id: Id, body: MemberUpdate, if_match: IfMatch
) -> MemberView:
    """Change a member's role or put them on or off duty."""
    return await service.update_member(session, principal, member_id, body, if_match)


@router.delete("/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE)
async def remove_member(session: SessionDep, principal: AdminPrincipal, member_id: Id) -> Response:
    """Remove a member from their team or department."""
    await service.remove_member(session, principal, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
